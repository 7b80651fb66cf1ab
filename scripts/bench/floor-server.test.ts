import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventHash } from '@logserver/shared/integrity/event-hash';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { PYTHON_EVENT } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Service, startFloor } from './processes.js';

/**
 * The floor (floor-server.ts) is the least a server storing our events can do, and the benchmark
 * compares ours to it: so it must really store each event, hashed, before it answers.
 */
describe('the benchmark floor server', () => {
  const work = mkdtempSync(join(tmpdir(), 'logserver-floor-test-'));
  let floor: Service;
  beforeAll(async () => {
    floor = await startFloor(join(work, 'floor.log'), work);
  }, 60_000);
  afterAll(async () => {
    await floor?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('answers each POST only once its event is in the SQLite file, with its hash', async () => {
    const { severity: _severity, ...withoutSeverity } = PYTHON_EVENT;
    const bodies = [...Array.from({ length: 30 }, (_, index) => ({ ...PYTHON_EVENT, resource_id: String(index) })), withoutSeverity];
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const response = await fetch(`${floor.url}/floor`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(response.status).toBe(200);
        return ((await response.json()) as { data: { id: string; hash: string; severity: string } }).data;
      }),
    );
    // Read while the server runs: an answered event is committed, not waiting for a close.
    const db = openSqlite(join(work, 'logserver.db'));
    try {
      const rows = db.prepare('SELECT id, hash, severity, resource_id FROM logs WHERE tenant_id = ? ORDER BY seq').all('floor') as {
        id: string;
        hash: string;
        severity: string;
        resource_id: string;
      }[];
      expect(rows.map((row) => row.id).sort()).toEqual(answers.map((answer) => answer.id).sort());
      const stored = new Map(rows.map((row) => [row.id, row]));
      for (const answer of answers) {
        const { hash, ...content } = answer;
        expect(stored.get(answer.id)?.hash).toBe(hash);
        expect(eventHash(content)).toBe(hash);
      }
      expect(answers.at(-1)?.severity).toBe('INFO');
    } finally {
      db.close();
    }
  }, 60_000);
});
