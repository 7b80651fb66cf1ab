import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notStoredOnce, type Pipeline, postEvents, sampleEvent, startPipeline, workerStats } from '../support/pipeline.js';

const EVENTS = 4_000;
const BULK = 20;

describe('SQS pipeline: the worker stopped while storing', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    // One receive loop, so the backlog takes the worker many batches and the kill lands in the middle.
    pipeline = await startPipeline({ worker: false, env: { SQS_RECEIVERS: '1' } });
  }, 60_000);
  afterAll(async () => {
    await pipeline?.close();
  });

  /** Small bulk POSTs one after another: each becomes a message of its own, a backlog of many batches. */
  async function postBacklog(tenant: string, events: number): Promise<string[]> {
    const acknowledged: string[] = [];
    for (let index = 0; index < events; index += BULK) {
      const posted = await postEvents(
        pipeline.log.url,
        tenant,
        Array.from({ length: BULK }, (_, offset) => sampleEvent(index + offset)),
      );
      acknowledged.push(...posted.acknowledged);
    }
    return acknowledged;
  }

  it('killed with SIGKILL, then restarted: stores every acknowledged event exactly once', async () => {
    const acknowledged = await postBacklog('tenant-k', EVENTS);
    expect(acknowledged).toHaveLength(EVENTS);

    // Not waiting for /readyz: the worker consumes from before it listens, and the kill has to land
    // while the backlog is still being stored.
    await pipeline.startWorker({}, { ready: false });
    await expect.poll(() => pipeline.storedCounts().size > 0, { timeout: 30_000, interval: 5 }).toBe(true);
    await pipeline.stopWorker('SIGKILL');
    const storedAtKill = pipeline.storedCounts().size;
    expect(storedAtKill).toBeGreaterThan(0);
    expect(storedAtKill).toBeLessThan(EVENTS);

    const restarted = await pipeline.startWorker();
    await expect.poll(() => pipeline.storedCounts().size >= EVENTS, { timeout: 60_000, interval: 250 }).toBe(true);
    expect(notStoredOnce(pipeline, acknowledged)).toEqual([]);
    expect(pipeline.storedCounts().size).toBe(EVENTS);
    // Batches the killed worker had stored but not deleted came back, and were not stored twice.
    const stats = await workerStats(restarted);
    expect(stats.events_stored + storedAtKill).toBe(EVENTS);
    // And none is left: each batch the killed worker held comes back once its visibility timeout
    // ends (2 s), is counted as duplicates, and is deleted. Until then the test is not over: a batch
    // still to come back would be the next test's (its restarted worker counted 200 duplicates in
    // two CI runs, sessions 8 and 9: ten of these 20-event messages).
    await expect.poll(async () => pipeline.queueDepth(), { timeout: 30_000, interval: 250 }).toEqual({ visible: 0, inFlight: 0 });
    expect((await workerStats(restarted)).events_stored + storedAtKill).toBe(EVENTS);
  }, 150_000);

  it('on SIGTERM stops receiving, finishes the batch in hand (stored and deleted) and exits 0', async () => {
    await pipeline.stopWorker();
    // Nothing of another test in the queue: its messages would come back to the workers below.
    expect(await pipeline.queueDepth()).toEqual({ visible: 0, inFlight: 0 });
    const acknowledged = await postBacklog('tenant-t', 2_000);
    // A longer visibility timeout than the suite's 2 s: on a loaded machine a stalled event loop can
    // miss the 1 s visibility heartbeat, SQS then hands the batch to another receive, and the first
    // receipt's delete is silently stale. Storage stays exactly-once either way; this test is about
    // what a clean SIGTERM finishes, so it keeps that race out.
    const calm = { SQS_VISIBILITY_TIMEOUT: '10' };
    // Counted before the worker starts, and not waiting for /readyz: a quiet machine stores a small
    // backlog before the first /readyz poll, and a count taken after it would then wait for nothing.
    const storedBefore = pipeline.storedCounts().size;
    const worker = await pipeline.startWorker(calm, { ready: false });
    await expect.poll(() => pipeline.storedCounts().size > storedBefore, { timeout: 30_000, interval: 5 }).toBe(true);
    await pipeline.stopWorker('SIGTERM');
    const storedAtTerm = pipeline.storedCounts().size - storedBefore;
    expect(worker.process.exitCode).toBe(0);
    expect(worker.output.join('\n')).toContain('shutting down');

    const restarted = await pipeline.startWorker(calm);
    await expect.poll(() => notStoredOnce(pipeline, acknowledged).length === 0, { timeout: 60_000, interval: 250 }).toBe(true);
    expect(notStoredOnce(pipeline, acknowledged)).toEqual([]);
    // Nothing the first worker stored came back: it deleted every batch it had stored before it exited.
    const stats = await workerStats(restarted);
    // Seen twice in CI (200: ten 20-event messages) and never reproduced; the workers' warnings
    // (a delete or a visibility change that failed) are what would tell why.
    const warnings = [...worker.output, ...restarted.output].filter((line) => /"level":(4|5)\d/.test(line));
    expect(stats.events_duplicate, `duplicates after a clean SIGTERM; workers' warnings:\n${warnings.join('\n')}`).toBe(0);
    // What the first worker stored plus what the restarted one stored is the backlog, once.
    expect(storedAtTerm + stats.events_stored).toBe(acknowledged.length);
  }, 150_000);
});
