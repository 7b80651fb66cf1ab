import {
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchResult,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { NotQueueable } from '@logserver/shared/errors/catalogue';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import { SqsLogQueue, type SqsLogQueueOptions } from '@logserver/shared/sqs/log-queue';
import { makeEvent } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fauxqs, startFauxqs } from '../support/fauxqs.js';

// Issue 13, item 2: an event holding U+FFFF (or, on fauxqs, an emoji) was refused by SQS, and since
// concurrent events of every tenant share one message, other tenants' POSTs got 503 for ever.

let fauxqs: Fauxqs;
let opened = 0;
beforeAll(async () => {
  fauxqs = await startFauxqs();
});
afterAll(async () => {
  await fauxqs.stop();
});

function options(overrides: Partial<SqsLogQueueOptions> = {}): SqsLogQueueOptions {
  opened++;
  return {
    endpoint: fauxqs.endpoint,
    region: 'us-east-1',
    queueName: `poison${opened}`,
    dlqName: `poison${opened}-dlq`,
    maxReceiveCount: 5,
    waitTimeSeconds: 1,
    visibilityTimeoutSeconds: 2,
    receivers: 2,
    ...overrides,
  };
}

const client = () =>
  new SQSClient({ region: 'us-east-1', endpoint: fauxqs.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

/** Consumes the queue into a map by id, so a test can compare what arrives with what was published. */
async function collect(queue: SqsLogQueue): Promise<Map<string, LogEvent>> {
  const received = new Map<string, LogEvent>();
  await queue.consume(async (batch) => {
    for (const event of batch) received.set(event.id, event);
  });
  return received;
}

const HOSTILE_TEXT = [
  '\uffff',
  '\ufffe',
  'emoji 😀 and 👩‍👩‍👧',
  'nul \u0000 and bell \u0007',
  'bidi \u202e',
  'José 李雷 Иван',
  '\ud7ff\ue000\ufffd',
];

describe('SQS message bodies carry any text an event may hold', () => {
  it('queues events with U+FFFF, U+FFFE, emoji and control characters, and the worker reads them back unchanged', async () => {
    const queue = await SqsLogQueue.open(options());
    try {
      const hostile = HOSTILE_TEXT.map((text) =>
        makeEvent('mallory', { action: `a ${text}`, resource_id: text, user_agent: text, metadata: { [`k${text}`]: text } }),
      );
      const innocent = Array.from({ length: 20 }, () => makeEvent('alice'));
      // Concurrent, so that both tenants' events are packed into the same messages.
      const results = await Promise.allSettled([...hostile, ...innocent].map((event) => queue.publish([event])));
      expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
      const received = await collect(queue);
      await expect.poll(() => received.size, { timeout: 10_000, interval: 20 }).toBe(hostile.length + innocent.length);
      for (const event of [...hostile, ...innocent]) expect(received.get(event.id)).toEqual(event);
    } finally {
      await queue.close();
    }
  });
});

/** An SQS client that refuses every message carrying `marker`, per entry or for the whole request. */
function refusingClient(marker: string, how: 'entry' | 'request'): SQSClient {
  const sqs = client();
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'SendMessageBatchCommand') return next(args);
      const input = args.input as SendMessageBatchCommandInput;
      const entries = input.Entries ?? [];
      const bad = entries.filter((entry) => entry.MessageBody?.includes(marker));
      if (bad.length === 0) return next(args);
      if (how === 'request')
        throw Object.assign(new Error('Invalid characters found'), { name: 'InvalidMessageContents', $fault: 'client' });
      const good = entries.filter((entry) => !bad.includes(entry));
      const result =
        good.length > 0
          ? await next({ ...args, input: { ...input, Entries: good } })
          : { output: { $metadata: {}, Successful: [], Failed: [] } as SendMessageBatchCommandOutput, response: {} };
      const output = result.output as SendMessageBatchResult;
      output.Failed = bad.map((entry) => ({ Id: entry.Id, SenderFault: true, Code: 'InvalidMessageContents' }));
      return result;
    },
    { step: 'initialize', name: 'refuseMarker' },
  );
  return sqs;
}

describe('one tenant’s refused event never fails another tenant’s', () => {
  for (const how of ['entry', 'request'] as const) {
    it(`splits a message SQS refuses (${how}) and retries its events one by one; only the refused one is a 422`, async () => {
      const sqs = refusingClient('POISON-MARK', how);
      const queue = await SqsLogQueue.open(options({ client: sqs }));
      try {
        const poison = makeEvent('mallory', { action: 'POISON-MARK' });
        const innocent = Array.from({ length: 30 }, () => makeEvent('alice'));
        const results = await Promise.allSettled([poison, ...innocent].map((event) => queue.publish([event])));
        const [poisoned, ...others] = results;
        expect(others.filter((result) => result.status === 'rejected')).toEqual([]);
        expect(poisoned?.status).toBe('rejected');
        const reason = (poisoned as PromiseRejectedResult).reason;
        expect(reason).toBeInstanceOf(NotQueueable);
        expect(reason.statusCode).toBe(422);
        const received = await collect(queue);
        await expect.poll(() => innocent.every((event) => received.has(event.id)), { timeout: 10_000, interval: 20 }).toBe(true);
        expect(received.has(poison.id)).toBe(false);
      } finally {
        await queue.close();
        sqs.destroy();
      }
    });
  }

  it('answers 422 at once, sending nothing, for an event too large for one message', async () => {
    const queue = await SqsLogQueue.open(options({ maxMessageBytes: 4_096 }));
    try {
      const before = fauxqs.requests.SendMessageBatch ?? 0;
      const large = makeEvent('mallory', { metadata: { text: 'é'.repeat(1_000) } });
      const error = await queue.publish([makeEvent('mallory'), large]).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NotQueueable);
      expect((error as NotQueueable).indexes).toEqual([1]);
      expect((error as NotQueueable).details[0]?.loc).toEqual(['body', 1]);
      expect(fauxqs.requests.SendMessageBatch ?? 0).toBe(before);
    } finally {
      await queue.close();
    }
  });
});
