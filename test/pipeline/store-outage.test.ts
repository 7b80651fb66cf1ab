import { openSqlite } from '@logserver/shared/sqlite/database';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notStoredOnce, type Pipeline, postEvents, sampleEvent, startPipeline, workerStats } from '../support/pipeline.js';

describe('SQS pipeline: the store failing for a while', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    // Receives enough that the outage cannot push a message to the dead-letter queue.
    pipeline = await startPipeline({ env: { SQS_RECEIVERS: '1', SQS_MAX_RECEIVE_COUNT: '50' } });
  }, 60_000);
  afterAll(async () => {
    await pipeline?.close();
  });

  it('delivers the messages again after the visibility timeout and stores them once the store recovers', async () => {
    const stats = () => workerStats(pipeline.worker);
    // Another process holding the write lock: every append waits out busy_timeout, then fails.
    const locker = openSqlite(pipeline.sqlitePath);
    locker.exec('BEGIN EXCLUSIVE');
    const acknowledged: string[] = [];
    try {
      for (let batch = 0; batch < 5; batch++) {
        const posted = await postEvents(
          pipeline.log.url,
          'tenant-a',
          Array.from({ length: 100 }, (_, index) => sampleEvent(batch * 100 + index)),
        );
        expect(posted.status).toBe(200);
        acknowledged.push(...posted.acknowledged);
      }
      await expect.poll(async () => (await stats()).messages_failed >= 2, { timeout: 60_000, interval: 250 }).toBe(true);
      expect(pipeline.storedCounts().size).toBe(0);
    } finally {
      locker.exec('COMMIT');
      locker.close();
    }

    await expect.poll(() => pipeline.storedCounts().size >= acknowledged.length, { timeout: 60_000, interval: 250 }).toBe(true);
    expect(notStoredOnce(pipeline, acknowledged)).toEqual([]);
    const after = await stats();
    expect(after.messages_failed).toBeGreaterThanOrEqual(2);
    expect(after.messages_dead_lettered).toBe(0);
    // The failed messages were received again: more receives than messages ever sent.
    expect(after.messages_received).toBeGreaterThan(after.messages_failed);
    expect(after.events_stored).toBe(acknowledged.length);
  }, 150_000);
});
