import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deriveTenantKey } from '@logserver/shared/auth/tenant-key';
import { decodeJwt } from 'jose';
import type { NewmanRunExecution } from 'newman';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { readCollection, runCollection } from '../../../test/support/newman.js';

const secret = randomBytes(24).toString('hex');
const ROLES = ['writer', 'viewer', 'auditor', 'admin'] as const;
const ENVIRONMENTS = ['logserver-local.postman_environment.json', 'logserver-cluster.postman_environment.json'];
/**
 * newman costs about 60 ms a request whatever the route, so each run of the collection is most of
 * this file's time. On the MongoDB double one run: the store is what that project adds, and the two
 * environment files differ only in `host` (checked below), which every run overrides.
 */
const RUN_WITH = inject('testStore') === 'mongodb-double' ? ENVIRONMENTS.slice(0, 1) : ENVIRONMENTS;

/** An environment file's variables, but its host. */
function variablesOf(file: string): Record<string, unknown> {
  const environment = JSON.parse(readFileSync(new URL(`../../../extra/${file}`, import.meta.url), 'utf8')) as {
    values: { key: string; value: unknown }[];
  };
  return Object.fromEntries(
    environment.values.filter((variable) => variable.key !== 'host').map((variable) => [variable.key, variable.value]),
  );
}

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne({ AUTH_SECRET: secret, AUTH_ADMIN_TENANT: 'system' });
});
afterAll(() => server.close());

/** docs/auth.md's role table: for each `METHOD /path`, the columns that carry a mark. */
function roleTable(): Map<string, Set<string>> {
  const columns = [...ROLES, 'platform admin'];
  const table = new Map<string, Set<string>>();
  for (const line of readFileSync(new URL('../../../docs/auth.md', import.meta.url), 'utf8').split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const route = /^`((?:GET|POST|PUT|DELETE|PATCH) \/api\/\S+)`$/.exec(cells[1] ?? '')?.[1];
    if (!route) continue;
    table.set(route, new Set(columns.filter((_, index) => (cells[index + 2] ?? '') !== '')));
  }
  return table;
}

/** What one request of the run was: its route (as the table writes it), who signed it, and the answer. */
function described(execution: NewmanRunExecution) {
  const path = execution.request.url
    .getPath()
    .replace(/^\/api\/v1\/logs\/(?!bulk$|cleanup$|events$|export$|stats$|stream$|verify$)[^/]+/, '/api/v1/logs/:id')
    .replace(/^\/api\/v1\/integrity\/checkpoints\/\d+\/cosignatures$/, '/api/v1/integrity/checkpoints/:size/cosignatures')
    .replace(/^\/api\/v1\/tenants\/[^/]+\/retention$/, '/api/v1/tenants/:key/retention')
    .replace(/^\/api\/v1\/streams\/[^/]+/, '/api/v1/streams/:id');
  const authorization = execution.request.headers.get('Authorization');
  const claims = authorization ? decodeJwt(authorization.replace(/^Bearer /, '')) : undefined;
  const who = claims === undefined ? 'nobody' : claims.tenant === 'system' ? 'platform admin' : String(claims.role);
  return { route: `${execution.request.method} ${path}`, who, status: execution.response?.code, tenant: claims?.tenant };
}

describe('the Postman collection in extra/, run by newman against the all-in-one server', () => {
  it('has environment files that differ only in host', () => {
    expect(variablesOf(ENVIRONMENTS[1] as string)).toEqual(variablesOf(ENVIRONMENTS[0] as string));
  });

  it('passes every request’s tests with each environment file, each run in a fresh tenant, covering every route and every refusal', async () => {
    const table = roleTable();
    expect(table.size).toBeGreaterThanOrEqual(14);
    const tenants = new Set<string>();
    for (const environment of RUN_WITH) {
      // The same prefix both times: the second run would meet the first one's tenant if runs reused it.
      const summary = await runCollection(environment, {
        host: server.url,
        tenant: 'postman',
        platform_secret: deriveTenantKey('hmac-sha256', secret, 'system'),
      });
      const failures = summary.run.failures.map((failure) => `${failure.source?.name}: ${failure.error.message}`);
      expect(failures).toEqual([]);
      const executions = summary.run.executions;
      expect(executions).toHaveLength(readCollection().item.length);
      // Every request ran its own tests: at least a status check and a shape check each.
      for (const execution of executions) {
        expect(execution.assertions?.length ?? 0, execution.item.name).toBeGreaterThanOrEqual(2);
      }

      const requests = executions.map(described);
      const created = requests.find((request) => request.route === 'POST /api/v1/tenants' && request.status === 200);
      const runTenant = JSON.parse(executions[requests.indexOf(created!)]?.response?.stream?.toString() ?? 'null')?.data?.key;
      expect(runTenant).toMatch(/^postman-[a-z0-9]+$/);
      tenants.add(runTenant);
      // Every tenant request of the run is signed for the run's own tenant.
      for (const request of requests)
        if (request.who !== 'nobody' && request.who !== 'platform admin') expect(request.tenant).toBe(runTenant);

      for (const [route, allowed] of table) {
        const ofRoute = requests.filter((request) => request.route === route);
        // One request by a role the table allows gets past authorization (2xx, or the route's own answer:
        // 409 for an event not sealed yet, 426 for the stream over plain HTTP).
        expect(
          ofRoute.some((request) => allowed.has(request.who) && request.status !== 401 && request.status !== 403),
          `${route}: no allowed request`,
        ).toBe(true);
        for (const role of ROLES) {
          if (allowed.has(role)) continue;
          expect(
            ofRoute.some((request) => request.who === role && request.status === 403),
            `${route}: no 403 for a ${role}`,
          ).toBe(true);
        }
      }
    }
    expect(tenants.size).toBe(RUN_WITH.length);
    // Two runs of the whole collection need more than the default 30 s on a busy machine.
  }, 120_000);
});
