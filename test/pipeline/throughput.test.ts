import pMap from 'p-map';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notStoredOnce, type Pipeline, postEvents, sampleEvent, startPipeline, workerStats } from '../support/pipeline.js';

const SINGLES = 5_000;
const BULKS = 15;
const BULK_SIZE = 1_000;
const TOTAL = SINGLES + BULKS * BULK_SIZE;

describe('SQS pipeline: 20 000 events posted concurrently', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await startPipeline();
  }, 60_000);
  afterAll(async () => {
    await pipeline?.close();
  });

  it('stores every acknowledged event exactly once, at a small fraction of an SQS request per event', async () => {
    const before = await pipeline.fauxqs.requests();
    // Bulk requests spread among the singles, so both kinds are in flight at once.
    const jobs: (() => Promise<string[]>)[] = [];
    for (let index = 0; index < SINGLES; index++) {
      jobs.push(async () => (await postEvents(pipeline.log.url, `tenant-${index % 3}`, sampleEvent(index))).acknowledged);
      if (index % Math.ceil(SINGLES / BULKS) === 0) {
        const events = Array.from({ length: BULK_SIZE }, (_, offset) => sampleEvent(index + offset));
        jobs.push(async () => (await postEvents(pipeline.log.url, 'tenant-bulk', events)).acknowledged);
      }
    }
    const acknowledged = (await pMap(jobs, (job) => job(), { concurrency: 64 })).flat();
    expect(acknowledged).toHaveLength(TOTAL);
    const published = await pipeline.fauxqs.requests();

    await expect.poll(() => pipeline.storedCounts().size >= TOTAL, { timeout: 90_000, interval: 250 }).toBe(true);
    const counts = pipeline.storedCounts();
    expect(counts.size).toBe(TOTAL);
    expect(notStoredOnce(pipeline, acknowledged)).toEqual([]);

    const metrics = await (await fetch(`${pipeline.worker?.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^log_worker_events_stored_total ${TOTAL}$`, 'm'));
    expect(metrics).toMatch(/^log_worker_batch_duration_seconds_count\{outcome="stored"\} [1-9]\d*$/m);
    const stats = await workerStats(pipeline.worker);
    expect(stats).toMatchObject({ events_stored: TOTAL, last_received_at: expect.any(String) });
    expect(stats.messages_received).toBeGreaterThan(0);

    const after = await pipeline.fauxqs.requests();
    const delta = (action: string, from = before, to = after) => (to[action] ?? 0) - (from[action] ?? 0);
    const sends = delta('SendMessageBatch', before, published) + delta('SendMessage', before, published);
    const perThousand = (count: number) => Math.round((count / TOTAL) * 1000 * 10) / 10;
    console.log(
      `SQS requests per 1000 events: publish ${perThousand(sends)} (SendMessageBatch), ` +
        `consume ${perThousand(delta('ReceiveMessage'))} ReceiveMessage (incl. empty long polls) + ` +
        `${perThousand(delta('DeleteMessageBatch'))} DeleteMessageBatch + ${perThousand(delta('ChangeMessageVisibilityBatch'))} ChangeMessageVisibilityBatch`,
    );
    // The Python system made one SendMessage per event: 1000 per 1000 events.
    expect(sends).toBeGreaterThan(0);
    expect(perThousand(sends)).toBeLessThan(50);
    expect(delta('SendMessage', before, published)).toBe(0);
  }, 150_000);
});
