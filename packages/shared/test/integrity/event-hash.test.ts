import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEvent } from '@logserver/testing/events';
import { describe, expect, it } from 'vitest';
import { canonicalJson, eventHash, sha256Hex } from '../../src/integrity/event-hash.js';
import { inputToEvent, LogEventInput } from '../../src/schemas/log-event.js';
import { SqliteLogStore } from '../../src/sqlite/log-store.js';
import { tenantOf } from '../../src/store/tenant-id.js';

describe('event hash', () => {
  it('is SHA-256 of the RFC 8785 form: keys sorted, no whitespace, numbers in ES6 form', () => {
    expect(canonicalJson({ b: 1, a: [1e21, 0.1, -0, 'é'], c: { z: null, y: true } })).toBe(
      '{"a":[1e+21,0.1,0,"é"],"b":1,"c":{"y":true,"z":null}}',
    );
    const event = makeEvent('t');
    const { hash: _hash, ...content } = event;
    expect(event.hash).toBe(sha256Hex(canonicalJson(content)));
  });

  it('does not depend on key order and leaves the hash field out', () => {
    const event = makeEvent('t', { metadata: { b: 2, a: 1 } });
    const reordered = Object.fromEntries(Object.entries({ ...event, metadata: { a: 1, b: 2 } }).reverse());
    expect(eventHash(reordered)).toBe(event.hash);
    expect(eventHash({ ...event, hash: 'anything' })).toBe(event.hash);
    expect(eventHash({ ...event, action: 'other' })).not.toBe(event.hash);
  });

  it('is computed when the event is built and survives a round trip through the store', async () => {
    const input = LogEventInput.parse({ action: 'update', resource_type: 'user', after: { price: 1.5, tags: ['a'], nested: { n: 10 } } });
    const event = inputToEvent(input, { tenant: 'acme', sub: 'alice' }, '0197a000-0000-7000-8000-000000000000', new Date());
    expect(event.hash).toBe(eventHash(event));
    const store = SqliteLogStore.open(join(mkdtempSync(join(tmpdir(), 'logserver-hash-')), 'logserver.db'));
    await store.append(tenantOf({ tenant: 'acme' }), [event]);
    const stored = await store.get(tenantOf({ tenant: 'acme' }), event.id);
    expect(stored?.hash).toBe(event.hash);
    expect(eventHash(stored as object)).toBe(event.hash);
    await store.close();
  });

  it('refuses input RFC 8785 cannot represent: an infinite number or a lone surrogate', () => {
    expect(LogEventInput.safeParse(JSON.parse('{"action":"a","resource_type":"b","after":{"n":1e400}}')).success).toBe(false);
    expect(LogEventInput.safeParse(JSON.parse('{"action":"a\\ud800","resource_type":"b"}')).success).toBe(false);
    expect(LogEventInput.safeParse(JSON.parse('{"action":"a","resource_type":"b","metadata":{"k\\udc00":1}}')).success).toBe(false);
    expect(LogEventInput.safeParse(JSON.parse('{"action":"a \\ud83d\\ude00","resource_type":"b"}')).success).toBe(true);
  });
});
