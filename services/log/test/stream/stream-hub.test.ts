import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamLog } from '@logserver/shared/feed/port';
import { InProcessLogFeed } from '@logserver/shared/in-process/log-feed';
import { SqliteLogStore } from '@logserver/shared/sqlite/log-store';
import { SqliteStreamLog } from '@logserver/shared/sqlite/stream-log';
import { tenantOf } from '@logserver/shared/store/tenant-id';
import { createCursorCodec } from '@logserver/shared/stream/cursor';
import { makeEvent } from '@logserver/testing/events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_STREAM_LIMITS } from '../../src/stream/limits.js';
import { type StreamConnection, StreamHub } from '../../src/stream/stream-hub.js';

const tenant = tenantOf({ tenant: 'acme' });

/** What a client saw: its notices and how it was closed. */
function recordingConnection() {
  const notices: Record<string, unknown>[] = [];
  let closed: (value: { code: number; reason: string }) => void = () => {};
  const closedWith = new Promise<{ code: number; reason: string }>((resolve) => {
    closed = resolve;
  });
  const connection: StreamConnection = {
    wire: {
      bufferedAmount: 0,
      sendEvent: (_frame, done) => done(),
      sendNotice: (json, done) => {
        notices.push(JSON.parse(json));
        done();
      },
    },
    close: (code, reason) => closed({ code, reason }),
    heartbeat: () => () => {},
    onClosed: () => {},
  };
  return { connection, notices, closedWith };
}

/** The real SQLite stream log, with its head read held until the test lets it go (or forever). */
function heldHead(real: StreamLog) {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const log: StreamLog = {
    after: (...args) => real.after(...args),
    head: () => gate.then(() => real.head()),
    holds: (...args) => real.holds(...args),
    close: () => real.close(),
  };
  return { log, release };
}

describe('StreamHub: closing a stream whose head is still being read', () => {
  let dir: string;
  let store: SqliteLogStore;
  let real: SqliteStreamLog;
  let head: number;
  const cursors = createCursorCodec();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stream-hub-'));
    const path = join(dir, 'logserver.db');
    store = SqliteLogStore.open(path);
    await store.append(tenant, [makeEvent(tenant), makeEvent(tenant), makeEvent(tenant)]);
    real = new SqliteStreamLog(path);
    head = await real.head();
    expect(head).toBeGreaterThan(0);
  });

  afterEach(async () => {
    await real.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a token that expired before the head was read still closes with the head as the resume cursor', async () => {
    const held = heldHead(real);
    const hub = new StreamHub({ feed: new InProcessLogFeed(), streamLog: held.log, cursors }, DEFAULT_STREAM_LIMITS);
    const client = recordingConnection();
    hub.serve(client.connection, { tenant, filter: {}, after: null, exp: Math.floor(Date.now() / 1000) - 1 });
    held.release();
    const closed = await client.closedWith;
    expect(closed.code).toBe(4001);
    const after = /; after=(.+)$/.exec(closed.reason)?.[1];
    expect(after, closed.reason).toBeDefined();
    expect(cursors.decode(tenant, after as string)).toEqual({ position: head, id: null });
    expect(client.notices.at(-1)).toEqual({ type: 'closing', code: 4001, reason: 'token expired', after });
    // Closed before it was positioned: no head frame went out after the closing one.
    expect(client.notices.filter((notice) => notice.type === 'live')).toEqual([]);
    expect(hub.connectionCount).toBe(0);
  });

  it('a shutdown while heads are being read gives every connection its cursor', async () => {
    const held = heldHead(real);
    const hub = new StreamHub({ feed: new InProcessLogFeed(), streamLog: held.log, cursors }, DEFAULT_STREAM_LIMITS);
    const clients = [recordingConnection(), recordingConnection()];
    for (const client of clients) hub.serve(client.connection, { tenant, filter: {}, after: null, exp: undefined });
    const closing = hub.closeAll();
    held.release();
    await closing;
    for (const client of clients) {
      const closed = await client.closedWith;
      expect(closed.code).toBe(1001);
      expect(cursors.decode(tenant, /; after=(.+)$/.exec(closed.reason)?.[1] as string)).toEqual({ position: head, id: null });
    }
  });

  it('a head read that never answers still lets the connection close, without a cursor, within the bound', async () => {
    const held = heldHead(real); // never released
    const hub = new StreamHub({ feed: new InProcessLogFeed(), streamLog: held.log, cursors }, DEFAULT_STREAM_LIMITS);
    const client = recordingConnection();
    const started = Date.now();
    hub.serve(client.connection, { tenant, filter: {}, after: null, exp: Math.floor(Date.now() / 1000) - 1 });
    const closed = await client.closedWith;
    expect(closed).toEqual({ code: 4001, reason: 'token expired' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(client.notices.at(-1)).toEqual({ type: 'closing', code: 4001, reason: 'token expired', after: null });
  });
});
