import { makeEvent } from '@logserver/testing/events';
import { describe, expect, it } from 'vitest';
import { InProcessLogQueue } from '../../src/in-process/log-queue.js';
import { describeLogQueueContract } from '../../src/queue/log-queue.contract.js';

describeLogQueueContract('InProcessLogQueue', async () => new InProcessLogQueue());

describe('InProcessLogQueue', () => {
  it('gathers concurrent publishes into one consumer call and fails each publish of a failed call', async () => {
    const queue = new InProcessLogQueue();
    const calls: number[] = [];
    await queue.consume(async (events) => {
      calls.push(events.length);
      if (events.some((event) => event.action === 'poison')) throw new Error('store rejected the batch');
    });
    await Promise.all(Array.from({ length: 20 }, () => queue.publish([makeEvent('t')])));
    expect(calls).toEqual([20]);
    const outcomes = await Promise.allSettled([queue.publish([makeEvent('t')]), queue.publish([makeEvent('t', { action: 'poison' })])]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
  });

  it('keeps one batch in the consumer: what is published meanwhile gathers into the next batch', async () => {
    const queue = new InProcessLogQueue();
    const calls: number[] = [];
    let finishFirst: () => void = () => {};
    await queue.consume(async (events) => {
      calls.push(events.length);
      if (calls.length === 1) await new Promise<void>((resolve) => (finishFirst = resolve));
    });
    // A few ms: a batch is flushed from a setImmediate scheduled once the batch before it is done.
    const turn = () => new Promise((resolve) => setTimeout(resolve, 5));
    const first = queue.publish([makeEvent('t')]);
    await turn();
    expect(calls).toEqual([1]);
    // Published in different turns of the event loop while the first batch is being stored.
    const later: Promise<void>[] = [];
    for (let n = 0; n < 5; n++) {
      later.push(queue.publish([makeEvent('t'), makeEvent('t')]));
      await turn();
    }
    expect(calls).toEqual([1]);
    finishFirst();
    await Promise.all([first, ...later]);
    expect(calls).toEqual([1, 10]);
  });

  it('refuses to acknowledge when no consumer is attached', async () => {
    await expect(new InProcessLogQueue().publish([makeEvent('t')])).rejects.toMatchObject({ statusCode: 503 });
  });
});
