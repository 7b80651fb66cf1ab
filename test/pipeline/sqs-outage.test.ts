import pMap from 'p-map';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notStoredOnce, type Pipeline, type Posted, postEvents, sampleEvent, startPipeline } from '../support/pipeline.js';

const PUBLISH_TIMEOUT_MS = 1_500;

describe('SQS pipeline: SQS stopped', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await startPipeline({ env: { SQS_PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS) } });
  }, 60_000);
  afterAll(async () => {
    await pipeline?.close();
  });

  /** POSTs one event after another on a few connections until told to stop; keeps every answer. */
  function keepPosting(): { stop(): Promise<Posted[]> } {
    let running = true;
    const answers: Posted[] = [];
    const lanes = pMap(
      [0, 1, 2, 3],
      async (lane) => {
        for (let index = 0; running; index++) answers.push(await postEvents(pipeline.log.url, `tenant-${lane}`, sampleEvent(index)));
      },
      { concurrency: 4 },
    );
    return {
      async stop() {
        running = false;
        await lanes;
        return answers;
      },
    };
  }

  it('answers 503 while SQS does not answer, and loses nothing it answered 200 for', async () => {
    const load = keepPosting();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    pipeline.fauxqs.pause();
    const started = Date.now();
    const refused = await postEvents(pipeline.log.url, 'tenant-x', sampleEvent(0));
    const waited = Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    pipeline.fauxqs.resume();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const answers = await load.stop();

    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ code: 503, msg: expect.stringContaining('Service unavailable'), data: null });
    // Bounded: the publish timeout plus the few milliseconds of gathering, not a hung request.
    expect(waited).toBeLessThan(PUBLISH_TIMEOUT_MS + 2_000);
    expect(answers.some((answer) => answer.status === 503)).toBe(true);
    expect(answers.every((answer) => answer.status === 200 || answer.status === 503)).toBe(true);
    const acknowledged = answers.flatMap((answer) => answer.acknowledged);
    expect(acknowledged.length).toBeGreaterThan(0);
    await expect.poll(() => notStoredOnce(pipeline, acknowledged).length === 0, { timeout: 60_000, interval: 250 }).toBe(true);
    expect(notStoredOnce(pipeline, acknowledged)).toEqual([]);
  }, 120_000);

  it('answers 503 at once while SQS is down, and recovers when it comes back empty', async () => {
    const before = (await postEvents(pipeline.log.url, 'tenant-a', sampleEvent(1))).acknowledged;
    await expect.poll(() => notStoredOnce(pipeline, before).length === 0, { timeout: 30_000, interval: 100 }).toBe(true);
    expect(notStoredOnce(pipeline, before)).toEqual([]);

    await pipeline.fauxqs.stop('SIGKILL');
    const down = await postEvents(pipeline.log.url, 'tenant-a', sampleEvent(2));
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ code: 503, data: null });
    const ready = await fetch(`${pipeline.log.url}/readyz`);
    expect(ready.status).toBe(503);

    // An in-memory SQS restarts without its queues: both services make them again on their own.
    await pipeline.restartFauxqs();
    let after: Posted | undefined;
    await expect
      .poll(
        async () => {
          after = await postEvents(pipeline.log.url, 'tenant-a', sampleEvent(3));
          return after.status === 200;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(true);
    expect(after?.status).toBe(200);
    const acknowledged = [...before, ...(after?.acknowledged ?? [])];
    await expect.poll(() => notStoredOnce(pipeline, acknowledged).length === 0, { timeout: 30_000, interval: 250 }).toBe(true);
    expect(notStoredOnce(pipeline, acknowledged)).toEqual([]);
  }, 120_000);
});
