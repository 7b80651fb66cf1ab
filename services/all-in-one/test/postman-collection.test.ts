import { randomBytes } from 'node:crypto';
import { deriveTenantKey } from '@logserver/shared/auth/tenant-key';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';
import { readCollection, runCollection } from '../../../test/support/newman.js';

const secret = randomBytes(24).toString('hex');

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne({ AUTH_SECRET: secret, AUTH_ADMIN_TENANT: 'system' });
});
afterAll(() => server.close());

describe('the Postman collection in extra/, run by newman against the all-in-one server', () => {
  it('passes every request’s status and body-shape tests, with both environment files', async () => {
    for (const environment of ['logserver-local.postman_environment.json', 'logserver-cluster.postman_environment.json']) {
      const tenant = `postman-${environment.split('-')[1]?.split('.')[0]}`;
      const summary = await runCollection(environment, {
        host: server.url,
        tenant,
        secret: deriveTenantKey('hmac-sha256', secret, tenant),
        platform_secret: deriveTenantKey('hmac-sha256', secret, 'system'),
      });
      const failures = summary.run.failures.map((failure) => `${failure.source?.name}: ${failure.error.message}`);
      expect(failures).toEqual([]);
      const executions = summary.run.executions;
      const collection = readCollection();
      expect(executions).toHaveLength(collection.item.length);
      // Every request ran its own tests: at least a status check and a shape check each.
      for (const execution of executions) {
        expect(execution.assertions?.length ?? 0, execution.item.name).toBeGreaterThanOrEqual(2);
      }
    }
  });
});
