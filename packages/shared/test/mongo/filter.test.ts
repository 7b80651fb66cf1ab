import { describe, expect, it } from 'vitest';
import { buildAfterFilter, buildLogFilter, buildStatsPipeline } from '../../src/mongo/log-store.js';
import type { Severity } from '../../src/schemas/log-event.js';
import type { LogFilter } from '../../src/store/port.js';
import { tenantOf } from '../../src/store/tenant-id.js';

/** The operators the adapter itself writes; any other `$` key would have come from input. */
const ADAPTER_OPERATORS = new Set([
  '$eq',
  '$in',
  '$regex',
  '$options',
  '$gte',
  '$gt',
  '$lt',
  '$or',
  '$and',
  '$match',
  '$group',
  '$sum',
  '$dateToString',
]);
/** The field names and expression keys the adapter writes. */
const ADAPTER_FIELDS = new Set([
  'tenant_id',
  'id',
  'action',
  'resource_type',
  'resource_id',
  'user_id',
  'ip_address',
  'severity',
  'user_agent',
  'timestamp',
  'search_text',
  '_id',
  'group',
  'start',
  'n',
  'date',
  'format',
  'timezone',
]);

const HOSTILE = ['{"$ne":1}', '$where', '$gt', 'a.b', '$regex', '.*', '(a+)+$', '^admin', 'x|y', '\\', 'tenant_id', '__proto__', '$$ROOT'];

/** Every key of a document tree, with the path to it. */
function keysOf(node: unknown, path: string[] = []): { key: string; path: string[] }[] {
  if (node === null || typeof node !== 'object' || node instanceof Date) return [];
  if (Array.isArray(node)) return node.flatMap((item, index) => keysOf(item, [...path, String(index)]));
  return Object.entries(node).flatMap(([key, child]) => [{ key, path }, ...keysOf(child, [...path, key])]);
}

function everyFilterFor(value: string) {
  const tenant = tenantOf({ tenant: value });
  const filter: LogFilter = {
    action: value,
    resource_type: value,
    resource_id: value,
    user_id: value,
    ip_address: value,
    severity: ['INFO', 'CRITICAL'],
    user_agent: value,
    from: '2025-01-01T00:00:00.000Z',
    to: '2025-02-01T00:00:00.000Z',
    search: value,
  };
  return [
    buildLogFilter(tenant, filter),
    buildAfterFilter('desc', { timestamp: '2025-01-05T00:00:00.000Z', id: value }),
    buildAfterFilter('asc', { timestamp: '2025-01-05T00:00:00.000Z', id: value }),
    ...(['severity', 'action', 'resource_type', 'user_id'] as const).flatMap((groupBy) => [
      buildStatsPipeline(tenant, filter, { groupBy }),
      buildStatsPipeline(tenant, filter, { groupBy, interval: 'hour' }),
      buildStatsPipeline(tenant, filter, { groupBy, interval: 'day' }),
    ]),
  ];
}

describe('MongoDB filter documents built from hostile input', () => {
  for (const value of HOSTILE) {
    it(`hold ${JSON.stringify(value)} only as a value`, () => {
      for (const document of everyFilterFor(value)) {
        for (const { key, path } of keysOf(document)) {
          if (key.startsWith('$')) expect(ADAPTER_OPERATORS, `${path.join('.')}.${key}`).toContain(key);
          else if (!/^\d+$/.test(key)) expect(ADAPTER_FIELDS, `${path.join('.')}.${key}`).toContain(key);
        }
      }
    });

    it(`match ${JSON.stringify(value)} as literal text in user_agent and search`, () => {
      const built = buildLogFilter(tenantOf({ tenant: 't' }), { user_agent: value, search: value }) as Record<string, { $regex: string }>;
      const agent = new RegExp(built.user_agent?.$regex ?? '', 'i');
      const search = new RegExp(built.search_text?.$regex ?? '');
      expect(agent.test(`before ${value} after`)).toBe(true);
      expect(search.test(`before ${value.toLowerCase()} after`)).toBe(true);
      // Text that a pattern would accept but the literal does not contain must not match.
      expect(agent.test('zzz')).toBe(false);
      expect(search.test('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!')).toBe(false);
    });
  }

  it('refuses a value that is not a string, even one cast past the types', () => {
    const operator = { $ne: 1 } as unknown as string;
    const tenant = tenantOf({ tenant: 't' });
    expect(() => buildLogFilter(tenant, { action: operator })).toThrow(TypeError);
    expect(() => buildLogFilter(tenant, { severity: [operator as Severity] })).toThrow(TypeError);
    expect(() => buildAfterFilter('asc', { timestamp: '2025-01-01T00:00:00.000Z', id: operator })).toThrow(TypeError);
  });
});
