import { PYTHON_EVENT, seededRandom } from '@logserver/testing/events';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LIMITS } from '../../src/schemas/limits.js';
import { inputToEvent, LogEvent, LogEventBulkInput, LogEventInput } from '../../src/schemas/log-event.js';
import {
  plainEventEnvelope,
  plainEventsEnvelope,
  plainListEnvelope,
  plainLogEventBulkInput,
  plainLogEventInput,
} from '../../src/schemas/log-event-fast-path.js';
import { ListMeta } from '../../src/schemas/log-query.js';
import { okEnvelope } from '../../src/schemas/responses.js';

const ABSENT = Symbol('absent');
const text = (length: number, unit = 'a') => unit.repeat(length);
const deep = (levels: number): unknown => (levels === 0 ? 1 : { k: deep(levels - 1) });
// Every field's candidates: fine values, boundary values on both sides, and what zod refuses or transforms.
const CANDIDATES: Record<string, unknown[]> = {
  event_id: [
    ABSENT,
    '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B',
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '0190a1b2-c3d4-9e5f-8a9b-0c1d2e3f4a5b',
    '0190a1b2-c3d4-7e5f-ca9b-0c1d2e3f4a5b',
    'not-a-uuid',
    '',
    42,
    null,
  ],
  action: [
    'update',
    ' update',
    'update ',
    '   ',
    '',
    text(128),
    text(129),
    text(64, '😀'),
    text(65, '😀'),
    'logs.cleanup',
    'LOGS.x',
    'logsx',
    '\ud800',
    'a\u2028b',
    7,
    null,
  ],
  resource_type: ['user', ' user', '', text(128), text(129), '\udc00x', true, null, ABSENT],
  resource_id: [ABSENT, '123', '', text(256), text(257), '\ud83d', 123, null],
  timestamp: [
    ABSENT,
    '2025-06-26T01:23:45.678Z',
    '2025-06-26T01:23:45Z',
    '2025-06-26T01:23:45.6789Z',
    '2025-06-26T01:23:45.678+00:00',
    '2025-06-26T03:23:45.678+02:00',
    '2024-02-29T00:00:00.000Z',
    '2025-02-29T00:00:00.000Z',
    '0000-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    '9999-12-31T23:59:59-23:59',
    '2025-06-26 01:23:45.678Z',
    '2025-06-26T01:23:45.678',
    '2025-06-26',
    'yesterday',
    1750901025678,
    null,
  ],
  ip_address: [
    ABSENT,
    '192.168.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '256.1.1.1',
    '01.2.3.4',
    '::1',
    '2001:db8::1',
    '::1\n',
    '1.2.3.4 ',
    '',
    3232235521,
    null,
  ],
  user_agent: [ABSENT, 'Mozilla/5.0', '', text(1024), text(1025), ' padded ', '\udfff', [], null],
  before: [
    ABSENT,
    { email: 'old@example.com' },
    {},
    { nested: { list: [1, 'two', null, true, { x: 1.5 }] } },
    { $where: 1 },
    { 'a.b': 1 },
    { ok: { $set: 1 } },
    { [text(256)]: 1 },
    { [text(257)]: 1 },
    { bad: '\ud800' },
    { '\udc00': 1 },
    deep(LIMITS.objectDepth - 1),
    deep(LIMITS.objectDepth),
    deep(LIMITS.objectDepth + 1),
    { big: text(LIMITS.objectBytes - 20) },
    { big: text(LIMITS.objectBytes) },
    { 10: 'a', 2: 'b', z: 'c' },
    [1, 2],
    'text',
    null,
  ],
  after: [ABSENT, { name: 'New' }, { 'x.y': true }, null],
  metadata: [ABSENT, { editor: 'admin' }, { n: -0 }, { n: 1e21 }, 5, null],
  severity: [ABSENT, 'INFO', 'WARNING', 'ERROR', 'CRITICAL', 'info', 'DEBUG', '', null],
};

function withField(base: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const body = { ...base };
  if (value === ABSENT) delete body[field];
  else body[field] = value;
  return body;
}

/** Bodies: each candidate of each field on the README's event, then random mixes of candidates. */
function bodies(): unknown[] {
  const out: unknown[] = [];
  for (const [field, values] of Object.entries(CANDIDATES)) for (const value of values) out.push(withField(PYTHON_EVENT, field, value));
  const random = seededRandom(15);
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)] as T;
  for (let index = 0; index < 1500; index++) {
    // Mostly the README's values (event_id: a lower-case UUID), so that many mixes are fine bodies.
    let body: Record<string, unknown> = { ...PYTHON_EVENT, event_id: CANDIDATES.event_id?.[1] };
    for (const [field, values] of Object.entries(CANDIDATES)) if (random() < 0.15) body = withField(body, field, pick(values));
    out.push(body);
  }
  out.push({ ...PYTHON_EVENT, extra: 1 }, { ...PYTHON_EVENT, user_id: 'someone' }, [], [PYTHON_EVENT], 'text', 7, null);
  return out;
}

/** The guard answers undefined, or exactly what zod answers: the same value, the same JSON text (key order). */
function expectSameAsZod<T>(schema: z.ZodType<T>, plain: (body: unknown) => T | undefined, body: unknown): boolean {
  const fast = plain(body);
  if (fast === undefined) return false;
  const parsed = schema.safeParse(body);
  expect(parsed.success, JSON.stringify(body)).toBe(true);
  expect(fast).toStrictEqual(parsed.data);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(parsed.data));
  return true;
}

describe('plainLogEventInput', () => {
  it('accepts only bodies zod accepts, and answers what zod answers for them', () => {
    const all = bodies();
    let accepted = 0;
    let zodAccepted = 0;
    for (const body of all) {
      if (expectSameAsZod(LogEventInput, plainLogEventInput, body)) accepted++;
      if (LogEventInput.safeParse(body).success) zodAccepted++;
    }
    // Not vacuous: most bodies zod accepts take the guard (the rest need a transform or IPv6).
    expect(accepted).toBeGreaterThan(zodAccepted / 3);
    expect(accepted).toBeLessThanOrEqual(zodAccepted);
  });

  it('takes the README example and fills the default severity as zod does', () => {
    expect(plainLogEventInput(PYTHON_EVENT)).toStrictEqual(LogEventInput.parse(PYTHON_EVENT));
    const { severity: _, ...withoutSeverity } = PYTHON_EVENT;
    expect(plainLogEventInput(withoutSeverity)?.severity).toBe('INFO');
  });

  it('leaves to zod every body that needs a transform, so its output is still zod’s', () => {
    for (const body of [
      { ...PYTHON_EVENT, action: ' update ' },
      { ...PYTHON_EVENT, timestamp: '2025-06-26T03:23:45.678+02:00' },
      { ...PYTHON_EVENT, event_id: '0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B' },
    ])
      expect(plainLogEventInput(body)).toBeUndefined();
  });
});

describe('plainLogEventBulkInput', () => {
  it('answers what zod answers for arrays, and leaves repeated event_ids, empty and oversized arrays to zod', () => {
    const all = bodies();
    const random = seededRandom(16);
    let accepted = 0;
    for (let index = 0; index < 400; index++) {
      const size = 1 + Math.floor(random() * 5);
      const items = Array.from({ length: size }, () => all[Math.floor(random() * 120)]);
      if (expectSameAsZod(LogEventBulkInput, plainLogEventBulkInput, items)) accepted++;
    }
    expect(accepted).toBeGreaterThan(10);
    const id = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
    expect(
      plainLogEventBulkInput([
        { ...PYTHON_EVENT, event_id: id },
        { ...PYTHON_EVENT, event_id: id },
      ]),
    ).toBeUndefined();
    expect(plainLogEventBulkInput([])).toBeUndefined();
    expect(plainLogEventBulkInput(Array.from({ length: LIMITS.bulkEvents + 1 }, () => PYTHON_EVENT))).toBeUndefined();
    expectSameAsZod(
      LogEventBulkInput,
      plainLogEventBulkInput,
      Array.from({ length: LIMITS.bulkEvents }, () => PYTHON_EVENT),
    );
  });
});

describe('plainEventEnvelope, plainEventsEnvelope and plainListEnvelope', () => {
  const actor = { tenant: 'acme', sub: 'alice' };
  const at = new Date('2026-12-01T10:00:00.000Z');
  const event = inputToEvent(LogEventInput.parse(PYTHON_EVENT), actor, '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', at);
  const zodText = (schema: z.ZodType, data: unknown) => JSON.stringify(z.encode(schema, data));

  it('writes the same text as zod’s encode for events built by inputToEvent', () => {
    const one = okEnvelope(LogEvent);
    const many = okEnvelope(z.array(LogEvent), z.object({ count: z.number().int() }));
    for (const body of bodies().slice(0, 400)) {
      const input = LogEventInput.safeParse(body);
      if (!input.success) continue;
      const built = inputToEvent(input.data, actor, '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', at);
      expect(plainEventEnvelope({ code: 200, msg: 'ok', data: built })).toBe(zodText(one, { code: 200, msg: 'ok', data: built }));
    }
    const data = { code: 200, msg: 'ok', data: [event, event], meta: { count: 2 } };
    expect(plainEventsEnvelope(data)).toBe(zodText(many, data));
  });

  it('leaves to zod an answer with a key the schema would strip, a missing key, another order or a wrong type', () => {
    const { hash: _, ...withoutHash } = event;
    expect(plainEventEnvelope({ code: 200, msg: 'ok', data: withoutHash })).toBe(
      zodText(okEnvelope(LogEvent), { code: 200, msg: 'ok', data: withoutHash }),
    );
    const { severity, ...rest } = event;
    for (const data of [
      { ...event, secret: 'x' },
      rest,
      { severity, ...rest },
      { ...event, severity: 'LOUD' },
      { ...event, resource_id: 5 },
      { ...event, before: [1] },
    ])
      expect(plainEventEnvelope({ code: 200, msg: 'ok', data })).toBeUndefined();
    expect(plainEventEnvelope({ code: 200, msg: 'ok', data: event, extra: 1 })).toBeUndefined();
    expect(plainEventsEnvelope({ code: 200, msg: 'ok', data: [event], meta: { count: 1, more: true } })).toBeUndefined();
  });

  it('writes a list page as zod’s encode does, for page/size and cursor meta, and leaves any other meta to zod', () => {
    const list = okEnvelope(z.array(LogEvent), ListMeta);
    const read = JSON.parse(JSON.stringify(event)) as typeof event; // as a store reads it back: parsed JSON
    const pages = [
      { total: 120, page: 2, size: 50, pages: 3, next_cursor: 'abc' },
      { total: 0, page: 1, size: 50, pages: 0, next_cursor: null },
      { size: 50, next_cursor: 'eyJ0cyI6IjIwMjYifQ' },
      { size: 1, next_cursor: null },
    ];
    for (const meta of pages) {
      for (const data of [[], [read], [read, event, read]]) {
        const answer = { code: 200, msg: 'ok', data, meta };
        expect(plainListEnvelope(answer)).toBe(zodText(list, answer));
      }
    }
    for (const meta of [
      { size: 50 },
      { next_cursor: null },
      { next_cursor: null, size: 50 },
      { size: 50, next_cursor: null, extra: 1 },
      { page: 1, total: 3, size: 50, pages: 1, next_cursor: null },
      { total: 1.5, size: 50, next_cursor: null },
      { size: '50', next_cursor: null },
      { size: 50, next_cursor: 7 },
    ])
      expect(plainListEnvelope({ code: 200, msg: 'ok', data: [read], meta })).toBeUndefined();
    expect(plainListEnvelope({ code: 200, msg: 'ok', data: [{ ...read, extra: 1 }], meta: pages[0] })).toBeUndefined();
    expect(plainListEnvelope({ code: 200, msg: 'ok', data: [read], meta: pages[0], extra: 1 })).toBeUndefined();
  });

  it('leaves to zod an event whose before, after or metadata has an own __proto__ key (zod’s record drops it)', () => {
    for (const key of ['before', 'after', 'metadata']) {
      const data = { ...event, [key]: JSON.parse('{"__proto__":{"x":1},"a":2}') };
      expect(plainEventEnvelope({ code: 200, msg: 'ok', data })).toBeUndefined();
      const answer = { code: 200, msg: 'ok', data: [data], meta: { size: 50, next_cursor: null } };
      expect(plainListEnvelope(answer)).toBeUndefined();
      // What zod then writes: the key gone, the rest kept (noted in docs/architecture.md).
      expect(JSON.parse(zodText(okEnvelope(LogEvent), { code: 200, msg: 'ok', data })).data[key]).toEqual({ a: 2 });
    }
  });
});
