import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type SendMessageBatchCommandInput,
  type SendMessageBatchResult,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { makeEvent } from '@logserver/testing/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fauxqs, startFauxqs } from '../../../../test/support/fauxqs.js';
import { describeLogQueueContract } from '../../src/queue/log-queue.contract.js';
import type { LogEvent } from '../../src/schemas/log-event.js';
import { SqsLogQueue, type SqsLogQueueOptions } from '../../src/sqs/log-queue.js';

let fauxqs: Fauxqs;
let opened = 0;
beforeAll(async () => {
  fauxqs = await startFauxqs();
});
afterAll(async () => {
  await fauxqs.stop();
});

/** A fresh pair of queues per test, with timings short enough for tests. */
function options(overrides: Partial<SqsLogQueueOptions> = {}): SqsLogQueueOptions {
  opened++;
  return {
    endpoint: fauxqs.endpoint,
    region: 'us-east-1',
    queueName: `q${opened}`,
    dlqName: `q${opened}-dlq`,
    maxReceiveCount: 5,
    waitTimeSeconds: 1,
    visibilityTimeoutSeconds: 1,
    receivers: 2,
    ...overrides,
  };
}

describeLogQueueContract('SqsLogQueue on fauxqs', () => SqsLogQueue.open(options()), 10_000);

describe('SqsLogQueue', () => {
  const urlOf = async (sqs: SQSClient, name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  const client = () =>
    new SQSClient({ region: 'us-east-1', endpoint: fauxqs.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

  it('creates the queue with a redrive policy to its dead-letter queue', async () => {
    const settings = options({ maxReceiveCount: 7 });
    const queue = await SqsLogQueue.open(settings);
    const sqs = client();
    try {
      const url = await urlOf(sqs, settings.queueName);
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }));
      expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: expect.stringContaining(settings.dlqName),
        maxReceiveCount: '7',
      });
    } finally {
      sqs.destroy();
      await queue.close();
    }
  });

  it('sends many concurrent publishes as a few SendMessageBatch requests', async () => {
    const queue = await SqsLogQueue.open(options());
    try {
      const before = fauxqs.requests.SendMessageBatch ?? 0;
      await Promise.all(Array.from({ length: 500 }, () => queue.publish([makeEvent('tenant-a')])));
      const sent = (fauxqs.requests.SendMessageBatch ?? 0) - before;
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThanOrEqual(2);
    } finally {
      await queue.close();
    }
  });

  it('gathers the publishes made while a SendMessageBatch is in flight into the next one (#15)', async () => {
    const sqs = client();
    let sends = 0;
    // Each SendMessageBatch takes a second, as a slow SQS would.
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        sends++;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        return next(args);
      },
      { step: 'initialize', name: 'slowSend' },
    );
    const queue = await SqsLogQueue.open(options({ client: sqs, maxSendsInFlight: 1 }));
    try {
      const first = queue.publish([makeEvent('tenant-a')]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      // 20 publishes, 5 ms apart, all while the first request is in flight: one more request, not one per gather window.
      const rest: Promise<void>[] = [];
      for (let index = 0; index < 20; index++) {
        rest.push(queue.publish([makeEvent('tenant-a')]));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await Promise.all([first, ...rest]);
      expect(sends).toBe(2);
    } finally {
      await queue.close();
      sqs.destroy();
    }
  });

  it('waits receiveGatherMs after a receive that was not full, so the next carries what arrived meanwhile (#15)', async () => {
    const settings = options({ receivers: 1, receiveGatherMs: 1_500, maxSendsInFlight: 1, gatherMs: 0 });
    const queue = await SqsLogQueue.open(settings);
    try {
      const batches: number[] = [];
      await queue.consume(async (batch) => {
        batches.push(batch.length);
      });
      await queue.publish([makeEvent('tenant-a')]);
      await expect.poll(() => batches.length, { timeout: 5_000, interval: 10 }).toBe(1);
      // Ten publishes of one event each, one at a time: ten messages while the loop waits.
      for (let index = 0; index < 10; index++) await queue.publish([makeEvent('tenant-a')]);
      await expect.poll(() => batches.reduce((sum, size) => sum + size, 0), { timeout: 5_000, interval: 10 }).toBe(11);
      // The ten arrived within the wait: one receive (and one delete) carried all of them.
      expect(batches).toEqual([1, 10]);
    } finally {
      await queue.close();
    }
  });

  it('sends again only the entries SQS failed in a batch, and resolves once they are accepted', async () => {
    const sqs = client();
    const sent: string[][] = [];
    let failOne = true;
    // Fails the first entry of the first SendMessageBatch as SQS would (not sent, reported Failed).
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        const input = args.input as SendMessageBatchCommandInput;
        const entries = input.Entries ?? [];
        sent.push(entries.map((entry) => entry.Id ?? ''));
        if (!failOne) return next(args);
        failOne = false;
        const [dropped, ...rest] = entries;
        const result = await next({ ...args, input: { ...input, Entries: rest } });
        const output = result.output as SendMessageBatchResult;
        output.Failed = [{ Id: dropped?.Id, SenderFault: false, Code: 'InternalError' }];
        return result;
      },
      { step: 'initialize', name: 'failFirstEntry' },
    );
    // Small messages, so one publish makes several messages in one SendMessageBatch.
    const queue = await SqsLogQueue.open(options({ client: sqs, maxMessageBytes: 2_048 }));
    try {
      const events = Array.from({ length: 8 }, () => makeEvent('tenant-a'));
      await queue.publish(events);
      expect(sent).toHaveLength(2);
      expect(sent[0]?.length).toBeGreaterThan(1);
      expect(sent[1]).toEqual([sent[0]?.[0]]);
      const handled = new Map<string, number>();
      await queue.consume(async (batch) => {
        for (const event of batch) handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
      });
      await expect.poll(() => events.every((event) => handled.has(event.id)), { timeout: 10_000, interval: 20 }).toBe(true);
      expect(events.map((event) => handled.get(event.id))).toEqual(events.map(() => 1));
    } finally {
      await queue.close();
      sqs.destroy();
    }
  });

  it('moves an unreadable message to the dead-letter queue with the reason, and stores the rest', async () => {
    const settings = options();
    const queue = await SqsLogQueue.open(settings);
    const sqs = client();
    try {
      const url = await urlOf(sqs, settings.queueName);
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'not json' }));
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify([{ id: 'x' }]) }));
      const good = makeEvent('tenant-a');
      await queue.publish([good]);
      const handled: LogEvent[] = [];
      await queue.consume(async (events) => {
        handled.push(...events);
      });
      await expect.poll(() => handled.length > 0 && queue.stats.messagesDeadLettered === 2, { timeout: 10_000, interval: 20 }).toBe(true);
      expect(handled).toEqual([good]);
      const dlq = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: await urlOf(sqs, settings.dlqName),
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
        }),
      );
      const reasons = (dlq.Messages ?? []).map((message) => message.MessageAttributes?.reason?.StringValue).sort();
      expect(reasons).toEqual([expect.stringMatching(/^not JSON/), expect.stringMatching(/^not a list of log events: 0\.tenant_id/)]);
    } finally {
      sqs.destroy();
      await queue.close();
    }
  });

  it('lets a message the store keeps refusing go to the dead-letter queue alone, not with the messages received with it', async () => {
    const settings = options({ receivers: 1, maxReceiveCount: 3 });
    const queue = await SqsLogQueue.open(settings);
    const sqs = client();
    try {
      // Separate publishes, one after another: separate messages, received together in one batch.
      const refused = makeEvent('tenant-a', { action: 'refused-by-store' });
      await queue.publish([refused]);
      const good = Array.from({ length: 5 }, () => makeEvent('tenant-a'));
      for (const event of good) await queue.publish([event]);
      const stored = new Set<string>();
      await queue.consume(async (events) => {
        if (events.some((event) => event.action === 'refused-by-store')) throw new Error('the store refuses this event');
        for (const event of events) stored.add(event.id);
      });
      await expect.poll(() => good.every((event) => stored.has(event.id)), { timeout: 15_000, interval: 20 }).toBe(true);
      expect(good.filter((event) => !stored.has(event.id))).toEqual([]);
      const dlqUrl = await urlOf(sqs, settings.dlqName);
      const dead: string[] = [];
      const deadline = Date.now() + 15_000;
      while (dead.length === 0 && Date.now() < deadline) {
        const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        for (const message of received.Messages ?? []) dead.push(message.Body ?? '');
      }
      expect(dead.map((body) => JSON.parse(body).map((event: { id: string }) => event.id))).toEqual([[refused.id]]);
    } finally {
      sqs.destroy();
      await queue.close();
    }
  });

  it('keeps a slow batch hidden while it is being stored, so no other receiver gets it', async () => {
    const queue = await SqsLogQueue.open(options({ visibilityTimeoutSeconds: 1, receivers: 3 }));
    try {
      const event = makeEvent('tenant-a');
      await queue.publish([event]);
      let calls = 0;
      await queue.consume(async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 3_000));
      });
      await expect.poll(() => queue.stats.messagesDeleted === 1, { timeout: 10_000, interval: 20 }).toBe(true);
      expect(calls).toBe(1);
      // The extensions reached SQS in time: nothing was deleted late.
      expect(queue.stats.visibilityLapses).toBe(0);
    } finally {
      await queue.close();
    }
  });

  it('counts and warns of a batch held past its visibility timeout with no extension (the event loop blocked)', async () => {
    const warnings: string[] = [];
    const logger = { warn: (_details: object, message: string) => warnings.push(message), error: () => {} };
    const queue = await SqsLogQueue.open({ ...options({ visibilityTimeoutSeconds: 1, receivers: 1 }), logger });
    try {
      await queue.publish([makeEvent('tenant-a')]);
      await queue.consume(async () => {
        // Longer than the timeout, and synchronous: the heartbeat's timer cannot run meanwhile.
        const until = Date.now() + 1_300;
        while (Date.now() < until) {}
      });
      await expect.poll(() => queue.stats.messagesDeleted >= 1, { timeout: 10_000, interval: 20 }).toBe(true);
      expect(queue.stats.visibilityLapses).toBe(1);
      expect(warnings).toContainEqual(expect.stringContaining('held past its visibility timeout'));
    } finally {
      await queue.close();
    }
  });

  it('rejects with 503 within the publish timeout when SQS does not answer', async () => {
    const other = await startFauxqs();
    const queue = await SqsLogQueue.open({ ...options(), endpoint: other.endpoint, publishTimeoutMs: 1_000 });
    await other.stop();
    try {
      const started = Date.now();
      await expect(queue.publish([makeEvent('tenant-a')])).rejects.toMatchObject({ statusCode: 503 });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await queue.close();
    }
  });
});
