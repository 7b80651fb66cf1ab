import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { EVENT_JSON_SQL } from '@logserver/shared/sqlite/logs-table';
import { type BenchContext, bearer } from '../context.js';
import { PYTHON_EVENT } from '../data.js';
import { hammer, type LoadResult } from '../http-load.js';
import { rssOf } from '../processes.js';
import type { Figure } from '../report.js';

const P99_LIMIT_MS = 50;
const MOST_CONNECTIONS = 512;
const BISECTIONS = 3;
/** A confirmation that misses is retried this many times, each with 3/4 of the connections before. */
const CONFIRMATIONS = 3;
const MB = 1024 * 1024;

interface Held {
  ok: boolean;
  load: LoadResult;
}

/** Holds when every request was answered 2xx with p99 ≤ 50 ms. */
async function holdsWith(url: string, headers: Record<string, string>, body: string, connections: number, seconds: number): Promise<Held> {
  const load = await hammer({ url, headers, body, connections, duration: seconds });
  const ok = load.errors === 0 && load.ok2xx > 0 && load.p99 <= P99_LIMIT_MS;
  console.log(
    `    c=${connections} for ${seconds} s: ${Math.round(load.ok2xxPerSecond)} req/s, p99 ${load.p99} ms, ${load.errors} errors: ${ok ? 'held' : 'missed'}`,
  );
  return { ok, load };
}

/**
 * 12: the highest rate of single POSTs the all-in-one holds with p99 ≤ 50 ms for 30 s (#15), and its
 * RSS at that steady state. Closed-loop clients (autocannon: each connection sends its next request
 * when the last is answered): short probes double the connections from 1 until p99 passes 50 ms,
 * bisect between the last held and the first missed, then the connections found must hold for the
 * full time (else 3/4 of them are tried); the figure is the rate they were answered at.
 * autocannon's overallRate is no open-loop alternative: it lets each connection send its share
 * of a second's requests at once when the second starts, bursts that are the latency measured.
 */
export async function sustainedLoad(context: BenchContext): Promise<Figure[]> {
  const { sustainSeconds, probeSeconds } = context.sizes;
  const scenario = `12 sustained single POSTs, p99 ≤ ${P99_LIMIT_MS} ms for ${sustainSeconds} s`;
  const url = `${context.server.url}/api/v1/logs`;
  const body = JSON.stringify(PYTHON_EVENT);
  const headers = bearer(await context.token('bench-sustained', 'writer'));
  await hammer({ url, headers, body, connections: 10, duration: 1 });
  let held = 0;
  let missed = MOST_CONNECTIONS * 2;
  for (let connections = 1; connections <= MOST_CONNECTIONS; connections *= 2) {
    if (!(await holdsWith(url, headers, body, connections, probeSeconds)).ok) {
      missed = connections;
      break;
    }
    held = connections;
  }
  for (let step = 0; step < BISECTIONS && held > 0 && missed - held > 1 && missed <= MOST_CONNECTIONS; step++) {
    const connections = Math.round((held + missed) / 2);
    if ((await holdsWith(url, headers, body, connections, probeSeconds)).ok) held = connections;
    else missed = connections;
  }
  let connections = held;
  let confirmed: Held | null = null;
  const samples: number[] = [];
  for (let attempt = 0; attempt < CONFIRMATIONS && connections >= 1; attempt++) {
    samples.length = 0;
    const timer = setInterval(() => samples.push(rssOf(context.server.pid)), 250);
    const run = await holdsWith(url, headers, body, connections, sustainSeconds).finally(() => clearInterval(timer));
    if (run.ok) {
      confirmed = run;
      break;
    }
    connections = Math.floor((connections * 3) / 4);
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const atRest = rssOf(context.server.pid);
  const echoAtRest = rssOf(context.echo.pid);
  // The second half of the run: the steady state, past the warm-up of the first seconds.
  const steady = samples.slice(Math.floor(samples.length / 2));
  const mean = steady.length === 0 ? null : steady.reduce((sum, value) => sum + value, 0) / steady.length / MB;
  const note = `not even one client at a time held p99 ≤ ${P99_LIMIT_MS} ms for ${sustainSeconds} s`;
  const unheld = confirmed ? {} : { note };
  return [
    { scenario, figure: 'highest rate held (requests/s)', value: confirmed?.load.ok2xxPerSecond ?? null, ...unheld },
    { scenario, figure: 'clients at that rate', value: confirmed ? connections : null, ...unheld },
    { scenario, figure: 'p99 latency at that rate (ms)', value: confirmed?.load.p99 ?? null, ...unheld },
    {
      scenario,
      figure: 'all-in-one RSS at steady state under that load (MB)',
      value: confirmed ? mean : null,
      baseline: echoAtRest / MB,
      relativeTo: 'the bare Fastify echo at rest',
      ...unheld,
    },
    {
      scenario,
      figure: 'all-in-one RSS at rest after it (MB)',
      value: atRest / MB,
      baseline: echoAtRest / MB,
      relativeTo: 'the bare Fastify echo at rest',
    },
  ];
}

/** Bytes of the files in a folder, but SQLite's shared-memory index (-shm), which is not data. */
function folderBytes(folder: string): number {
  return readdirSync(folder)
    .filter((name) => !name.endsWith('-shm'))
    .reduce((sum, name) => sum + statSync(join(folder, name)).size, 0);
}

/** 13: disk bytes per stored event after every scenario, beside the event's NDJSON line. */
export async function diskFootprint(context: BenchContext): Promise<Figure[]> {
  const scenario = '13 disk footprint of the all-in-one';
  const dataDir = join(context.workDir, 'data');
  const db = openSqlite(join(dataDir, 'logserver.db'));
  try {
    const { events, ndjson } = db
      .prepare(`SELECT count(*) AS events, sum(length(CAST(${EVENT_JSON_SQL} AS BLOB)) + 1) AS ndjson FROM logs`)
      .get() as {
      events: number;
      ndjson: number | null;
    };
    if (events === 0 || ndjson === null)
      return [{ scenario, figure: 'disk bytes per stored event', value: null, note: 'no events stored' }];
    return [
      { scenario, figure: 'events stored', value: events },
      {
        scenario,
        figure: 'disk bytes per stored event (DATA_DIR, indexes, rollups, integrity)',
        value: folderBytes(dataDir) / events,
        baseline: ndjson / events,
        relativeTo: 'the event as an NDJSON export line (bytes)',
      },
    ];
  } finally {
    db.close();
  }
}
