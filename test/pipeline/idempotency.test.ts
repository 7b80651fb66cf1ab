import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline, workerStats } from '../support/pipeline.js';

/** Polls until the check holds or the time is up; the assertion after it says what was missing. */
async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, everyMs));
}

/** A writer's POST through the gateway's headers, with an Idempotency-Key when given. */
async function post(pipeline: Pipeline, tenant: string, body: object, key?: string) {
  const response = await fetch(`${pipeline.log.url}/api/v1/logs${Array.isArray(body) ? '/bulk' : ''}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-auth-sub': 'writer-1',
      'x-auth-tenant': tenant,
      'x-auth-role': 'writer',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, replayed: response.headers.get('idempotent-replayed'), text: await response.text() };
}

const storedIn = (pipeline: Pipeline, tenant: string) => pipeline.storedOrder(tenant);

describe('SQS pipeline: retried POSTs leave one event', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await startPipeline({ worker: true });
  }, 60_000);
  afterAll(async () => {
    await pipeline?.close();
  });

  it('five retries with one key while the worker is killed: exactly one event once a worker is back', async () => {
    const key = randomUUID();
    const body = { action: 'invoice.paid', resource_type: 'invoice', resource_id: 'inv-9' };
    await pipeline.stopWorker('SIGKILL');
    const answers = [await post(pipeline, 'sqs-key', body, key)];
    for (let attempt = 1; attempt < 5; attempt++) answers.push(await post(pipeline, 'sqs-key', body, key));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((answer) => answer.replayed)).toEqual([null, 'true', 'true', 'true', 'true']);
    expect(new Set(answers.map((answer) => answer.text)).size).toBe(1);
    const id = JSON.parse(answers[0]?.text ?? '{}').data.id as string;
    expect(storedIn(pipeline, 'sqs-key')).toEqual([]);

    await pipeline.startWorker();
    await waitFor(() => storedIn(pipeline, 'sqs-key').length > 0, 30_000);
    // Give a duplicate, if one had been queued, the time to arrive too.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(storedIn(pipeline, 'sqs-key')).toEqual([`sqs-key/${id}`]);
  }, 90_000);

  it('the same event_id sent five times with no key while no worker runs: five messages, one event', async () => {
    await pipeline.stopWorker('SIGKILL');
    const eventId = randomUUID();
    for (let attempt = 0; attempt < 5; attempt++) {
      const answer = await post(pipeline, 'sqs-event-id', { event_id: eventId, action: 'user.login', resource_type: 'session' });
      expect(answer.status).toBe(200);
    }
    const worker = await pipeline.startWorker();
    await waitFor(async () => (await workerStats(worker)).events_stored + (await workerStats(worker)).events_duplicate >= 5, 30_000);
    const stats = await workerStats(worker);
    expect(stats.events_stored).toBe(1);
    expect(stats.events_duplicate).toBe(4);
    expect(storedIn(pipeline, 'sqs-event-id')).toEqual([`sqs-event-id/${eventId}`]);
  }, 90_000);

  it('a keyed bulk retried while the worker is killed in the middle of storing is stored once', async () => {
    await pipeline.stopWorker('SIGKILL');
    const batches = Array.from({ length: 20 }, (_, batch) =>
      Array.from({ length: 50 }, (__, index) => ({ action: `b${batch}.${index}`, resource_type: 'doc' })),
    );
    const keys = batches.map(() => randomUUID());
    for (const [index, batch] of batches.entries()) expect((await post(pipeline, 'sqs-bulk', batch, keys[index])).status).toBe(200);
    await pipeline.startWorker({ SQS_RECEIVERS: '1' });
    await waitFor(() => storedIn(pipeline, 'sqs-bulk').length > 0, 30_000, 5);
    await pipeline.stopWorker('SIGKILL');
    // Every batch retried while the worker is down: replays, nothing new queued.
    for (const [index, batch] of batches.entries()) expect((await post(pipeline, 'sqs-bulk', batch, keys[index])).replayed).toBe('true');
    await pipeline.startWorker();
    await waitFor(() => storedIn(pipeline, 'sqs-bulk').length >= 1000, 60_000, 250);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const stored = storedIn(pipeline, 'sqs-bulk');
    expect(stored).toHaveLength(1000);
    expect(new Set(stored).size).toBe(1000);
  }, 120_000);
});
