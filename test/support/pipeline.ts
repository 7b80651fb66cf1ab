import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { openSqlite } from '@logserver/shared/sqlite/database';
import { type FauxqsProcess, type ServiceProcess, startFauxqsProcess, startService } from './processes.js';

export interface Pipeline {
  fauxqs: FauxqsProcess;
  log: ServiceProcess;
  worker: ServiceProcess | null;
  dataDir: string;
  sqlitePath: string;
  /** The environment both services were started with. */
  env: Record<string, string>;
  /**
   * Starts a log-worker with these settings on top of the pipeline's; waits for /readyz unless
   * `ready: false` (then only until it listens: it is consuming by then, and a small backlog may be
   * drained before /readyz is first polled).
   */
  startWorker(extra?: Record<string, string>, options?: { ready?: boolean }): Promise<ServiceProcess>;
  /** SIGKILL or SIGTERM the worker; null it so the next startWorker starts a fresh one. */
  stopWorker(signal?: NodeJS.Signals): Promise<void>;
  /** Replaces a killed fauxqs with a fresh one on the same port (its queues and messages are gone). */
  restartFauxqs(): Promise<void>;
  /** The tenant's stored events as `tenant/id`, in the order they were committed (seq). */
  storedOrder(tenant: string): string[];
  /** How many times each (tenant, id) is in the SQLite file. */
  storedCounts(): Map<string, number>;
  /**
   * The main queue's messages as fauxqs counts them: visible (waiting for a receive) and in flight
   * (received, neither deleted nor back yet). fauxqs moves an expired message back only when the
   * queue is next used, and this call uses it, so the counts are current.
   */
  queueDepth(): Promise<{ visible: number; inFlight: number }>;
  close(): Promise<void>;
}

/**
 * The k8s shape on one machine: fauxqs as SQS, the log service and the log-worker as separate
 * processes sharing one SQLite file in a fresh folder. Timings are short so faults heal in seconds.
 */
export async function startPipeline(options: { worker?: boolean; env?: Record<string, string> } = {}): Promise<Pipeline> {
  const dataDir = mkdtempSync(join(tmpdir(), 'logserver-pipeline-'));
  const sqlitePath = join(dataDir, 'logserver.db');
  let fauxqs = await startFauxqsProcess();
  const env: Record<string, string> = {
    SQS_URL: fauxqs.endpoint,
    SQLITE_PATH: sqlitePath,
    SQS_WAIT_TIME_SECONDS: '1',
    SQS_VISIBILITY_TIMEOUT: '2',
    SQS_PUBLISH_TIMEOUT_MS: '2000',
    // These tests are about delivery, with x-auth-* headers for made-up tenants and no tenant service;
    // the registered-tenant check is tested in test/hostile/tenant-keys.test.ts and the gateway e2e.
    AUTH_REQUIRE_REGISTERED_TENANT: 'false',
    ...options.env,
  };
  let log: ServiceProcess;
  try {
    log = await startService('log', env);
  } catch (error) {
    await fauxqs.stop();
    throw error;
  }
  let sqs: SQSClient | undefined;
  const pipeline: Pipeline = {
    get fauxqs() {
      return fauxqs;
    },
    log,
    worker: null,
    dataDir,
    sqlitePath,
    env,
    async startWorker(extra = {}, options = {}) {
      if (pipeline.worker) throw new Error('a worker is already running: stop it first');
      pipeline.worker = await startService('log-worker', { ...env, ...extra }, options);
      return pipeline.worker;
    },
    async stopWorker(signal = 'SIGTERM') {
      await pipeline.worker?.stop(signal);
      pipeline.worker = null;
    },
    async restartFauxqs() {
      await fauxqs.stop('SIGKILL');
      fauxqs = await startFauxqsProcess(fauxqs.port);
    },
    storedOrder(tenant) {
      const db = openSqlite(sqlitePath);
      try {
        const rows = db.prepare('SELECT id FROM logs WHERE tenant_id = ? ORDER BY seq').all(tenant) as { id: string }[];
        return rows.map((row) => `${tenant}/${row.id}`);
      } finally {
        db.close();
      }
    },
    storedCounts() {
      const db = openSqlite(sqlitePath);
      try {
        const rows = db.prepare('SELECT tenant_id, id, count(*) AS n FROM logs GROUP BY tenant_id, id').all() as {
          tenant_id: string;
          id: string;
          n: number;
        }[];
        return new Map(rows.map((row) => [`${row.tenant_id}/${row.id}`, row.n]));
      } finally {
        db.close();
      }
    },
    async queueDepth() {
      // One client for the pipeline's life: tests poll this every few hundred ms, and a restarted
      // fauxqs keeps its port.
      sqs ??= new SQSClient({
        region: 'us-east-1',
        endpoint: fauxqs.endpoint,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: env.SQS_QUEUE_NAME ?? 'log-queue' }));
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return {
        visible: Number(Attributes?.ApproximateNumberOfMessages),
        inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
      };
    },
    async close() {
      sqs?.destroy();
      await Promise.allSettled([pipeline.log.stop(), pipeline.worker?.stop()]);
      await fauxqs.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (options.worker !== false) {
    try {
      await pipeline.startWorker();
    } catch (error) {
      await pipeline.close();
      throw error;
    }
  }
  return pipeline;
}

export interface Posted {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field
  body: any;
  /** `tenant/id` of each event the service acknowledged (200). */
  acknowledged: string[];
}

/** POSTs one event (an object) or a bulk array as a writer of the tenant, through the gateway's headers. */
export async function postEvents(url: string, tenant: string, body: object | object[]): Promise<Posted> {
  const bulk = Array.isArray(body);
  const response = await fetch(`${url}/api/v1/logs${bulk ? '/bulk' : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-auth-sub': 'writer-1', 'x-auth-tenant': tenant, 'x-auth-role': 'writer' },
    body: JSON.stringify(body),
  });
  const parsed = (await response.json()) as Posted['body'];
  const events: { id: string }[] = response.status === 200 ? (bulk ? parsed.data : [parsed.data]) : [];
  return { status: response.status, body: parsed, acknowledged: events.map((event) => `${tenant}/${event.id}`) };
}

export const sampleEvent = (index: number) => ({
  action: index % 3 === 0 ? 'update' : 'create',
  resource_type: 'invoice',
  resource_id: String(index),
  metadata: { source: 'pipeline-test', index },
});

/** Which acknowledged events are not stored exactly once (missing or, impossibly, twice). */
export function notStoredOnce(pipeline: Pipeline, acknowledged: Iterable<string>): string[] {
  const counts = pipeline.storedCounts();
  return [...acknowledged].filter((key) => counts.get(key) !== 1);
}

/** The worker's /stats: the Python system's three fields and ours. */
export interface WorkerStatsJson {
  messages_received: number;
  messages_failed: number;
  last_received_at: string | null;
  messages_dead_lettered: number;
  /** Messages deleted after their visibility timeout may have run out (they may come back as duplicates). */
  messages_visibility_lapsed: number;
  events_stored: number;
  events_duplicate: number;
}

export async function workerStats(worker: ServiceProcess | null): Promise<WorkerStatsJson> {
  if (!worker) throw new Error('no worker is running');
  return (await (await fetch(`${worker.url}/stats`)).json()) as WorkerStatsJson;
}
