import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../support/all-in-one.js';
import { openStream } from './hostile-support.js';

// Issue 13, item 8: search folded case for ASCII only on SQLite: `search=ÉCOLE` did not find
// `ÉCOLE`, and `Иван`, `ΣΩ`, `ÖZTÜRK` never matched, while the stream (JS) found them all.
// Runs on SQLite, and on MongoDB through the double in make test's second pass.

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne();
});
afterAll(() => server.close());

const TEXTS = ['ÉCOLE normale', 'Иван Петров', 'ΣΩΚΡΑΤΗΣ', 'Mehmet ÖZTÜRK', 'plain ascii'];
const SEARCHES: [string, string[]][] = [
  ['ÉCOLE', ['ÉCOLE normale']],
  ['école', ['ÉCOLE normale']],
  ['éCoLe', ['ÉCOLE normale']],
  ['иван', ['Иван Петров']],
  ['ИВАН', ['Иван Петров']],
  ['σωκρ', ['ΣΩΚΡΑΤΗΣ']],
  ['ΣΩ', ['ΣΩΚΡΑΤΗΣ']],
  ['öztürk', ['Mehmet ÖZTÜRK']],
  ['ÖZTÜRK', ['Mehmet ÖZTÜRK']],
  ['ASCII', ['plain ascii']],
];

describe('search folds case the same way (Unicode) on the list, export, stats and the stream', () => {
  it.each(SEARCHES)('search=%s finds %j in each field it looks in', async (search, expected) => {
    const tenant = `fold-${Buffer.from(search).toString('hex').slice(0, 20)}`;
    const writer = await server.token(tenant, 'writer');
    const viewer = await server.token(tenant, 'viewer');
    const stream = await openStream(server.url, `search=${encodeURIComponent(search)}`, { authorization: `Bearer ${viewer}` });
    try {
      // Each text once as resource_id, once in metadata, once as user_agent.
      const bodies = TEXTS.flatMap((text) => [
        { action: 'a', resource_type: 'r', resource_id: text },
        { action: 'a', resource_type: 'r', metadata: { name: text } },
        { action: 'a', resource_type: 'r', user_agent: text },
      ]);
      const posted = await call(`${server.url}/api/v1/logs/bulk`, { token: writer, body: bodies });
      expect(posted.status, posted.text).toBe(200);
      const wanted = (
        posted.body.data as { id: string; resource_id: string | null; metadata: { name?: string } | null; user_agent: string | null }[]
      )
        .filter((event) => expected.some((text) => [event.resource_id, event.metadata?.name, event.user_agent].includes(text)))
        .map((event) => event.id)
        .sort();
      expect(wanted).toHaveLength(expected.length * 3);
      const query = `search=${encodeURIComponent(search)}`;
      const listed = await call(`${server.url}/api/v1/logs?${query}&size=100`, { token: viewer });
      expect(listed.body.data.map((event: { id: string }) => event.id).sort()).toEqual(wanted);
      expect(listed.body.meta.total).toBe(wanted.length);
      const stats = await call(`${server.url}/api/v1/logs/stats?${query}`, { token: viewer });
      expect(stats.body.data.INFO).toBe(wanted.length);
      const streamed = new Set<string>();
      await stream.waitFor((frame) => {
        streamed.add(JSON.parse(frame).id);
        return streamed.size >= wanted.length;
      });
      // Give any event the stream should not have sent a moment to arrive.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(stream.frames.map((frame) => JSON.parse(frame).id).sort()).toEqual(wanted);
    } finally {
      await stream.close();
    }
  });
});
