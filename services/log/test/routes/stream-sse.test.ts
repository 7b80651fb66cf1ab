import { join } from 'node:path';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { EventSource, type EventSourceFetchInit } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../../test/support/all-in-one.js';
import { until } from '../../../../test/support/stream-client.js';

function storedIds(server: RunningServer, tenant: string): string[] {
  const db = openSqlite(join(server.dataDir, 'logserver.db'));
  try {
    return (db.prepare('SELECT id FROM logs WHERE tenant_id = ? ORDER BY seq').all(tenant) as { id: string }[]).map((row) => row.id);
  } finally {
    db.close();
  }
}

/**
 * fetch for the EventSource that cuts the first `cuts` responses after a random number of bytes,
 * wherever that falls (usually inside an event), the way a dropped mobile connection does. It
 * records the Last-Event-ID each request sent.
 */
function cuttingFetch(cuts: number) {
  const sent: (string | undefined)[] = [];
  let cutsLeft = cuts;
  const fetchLike = async (url: string | URL, init: EventSourceFetchInit) => {
    const headers = (init.headers ?? {}) as Record<string, string>;
    sent.push(headers['Last-Event-ID']);
    const response = await fetch(url, init as RequestInit);
    if (cutsLeft <= 0 || !response.body) return response;
    cutsLeft--;
    let budget = 2_000 + Math.floor(Math.random() * 30_000);
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        if (value.length < budget) {
          budget -= value.length;
          controller.enqueue(value);
          return;
        }
        controller.enqueue(value.subarray(0, budget));
        await reader.cancel();
        controller.error(new TypeError('connection reset'));
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch: fetchLike, sent };
}

describe('Server-Sent Events', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAllInOne();
  });
  afterAll(() => server.close());

  it('an EventSource cut mid-event resumes with Last-Event-ID and gets every event once, in commit order', async () => {
    const tenant = 'sse';
    const token = await server.token(tenant, 'viewer');
    const cutter = cuttingFetch(6);
    const source = new EventSource(`${server.url}/api/v1/logs/events?token=${token}`, { fetch: cutter.fetch });
    const received: string[] = [];
    const notices: string[] = [];
    let mismatchedIds = 0;
    source.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type) {
        notices.push(frame.type);
        return;
      }
      received.push(frame.id);
      if (message.lastEventId !== frame.cursor) mismatchedIds++;
    };
    await until('open', () => source.readyState === source.OPEN);
    const writer = await server.token(tenant, 'writer');
    for (let round = 0; round < 30; round++) {
      const body = Array.from({ length: 200 }, (_, n) => ({
        action: `sse.${round}.${n}`,
        resource_type: 'doc',
        metadata: { pad: 'z'.repeat(200) },
      }));
      expect((await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const stored = storedIds(server, tenant);
    await until('everything arrived', () => received.length >= stored.length, 60_000);
    // The last resumed connection's replay ends with the notice that it is live again.
    await until('live again', () => notices.includes('live'), 10_000);
    source.close();
    expect(new Set(received).size).toBe(received.length);
    expect(received).toEqual(stored);
    expect(mismatchedIds).toBe(0);
    // Each cut led to a reconnect that named the last complete event.
    const resumed = cutter.sent.filter((lastEventId) => lastEventId !== undefined);
    expect(resumed.length).toBeGreaterThanOrEqual(6);
  }, 120_000);

  it('serves the same stream on /api/v1/logs/stream to Accept: text/event-stream, with id: lines (curl -N)', async () => {
    const tenant = 'sse-curl';
    const token = await server.token(tenant, 'viewer');
    const controller = new AbortController();
    const response = await fetch(`${server.url}/api/v1/logs/stream?severity=ERROR`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    // The head frame first, its cursor also as id: (EventSource resumes from it before any event).
    while (!text.includes('"type":"live"')) text += new TextDecoder().decode((await reader.read()).value);
    const head = /id: (\S+)\ndata: (\{"type":"live".*)\n\n/.exec(text);
    expect(JSON.parse(head?.[2] as string)).toEqual({ type: 'live', cursor: head?.[1] });
    expect(text.startsWith(': logserver stream\nretry: 1000\n\nid: ')).toBe(true);
    text = '';
    const writer = await server.token(tenant, 'writer');
    await call(`${server.url}/api/v1/logs`, { token: writer, body: { action: 'quiet', resource_type: 'doc' } });
    const loud = await call(`${server.url}/api/v1/logs`, {
      token: writer,
      body: { action: 'loud', resource_type: 'doc', severity: 'ERROR' },
    });
    while (!/(^|\n)id: .*\ndata: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    const event = /id: (\S+)\ndata: (.*)\n\n/.exec(text);
    expect(event).not.toBeNull();
    const data = JSON.parse(event?.[2] as string);
    expect(data).toMatchObject({ id: loud.body.data.id, action: 'loud', cursor: event?.[1] });
  });

  it('refuses a plain GET of the WebSocket path without SSE, and bad tokens, in the envelope', async () => {
    const token = await server.token('sse', 'viewer');
    const plain = await call(`${server.url}/api/v1/logs/stream`, { token });
    expect(plain.status).toBe(426);
    expect((await call(`${server.url}/api/v1/logs/events`)).status).toBe(401);
    const writer = await call(`${server.url}/api/v1/logs/events`, { token: await server.token('sse', 'writer') });
    expect(writer.status).toBe(403);
    const bad = await call(`${server.url}/api/v1/logs/events?colour=red`, { token });
    expect(bad.status).toBe(422);
  });
});
