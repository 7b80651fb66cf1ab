import { GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notStoredOnce, type Pipeline, postEvents, sampleEvent, startPipeline, workerStats } from '../support/pipeline.js';

describe('SQS pipeline: a poison message', () => {
  let pipeline: Pipeline;
  let sqs: SQSClient;
  beforeAll(async () => {
    pipeline = await startPipeline({ env: { SQS_QUEUE_NAME: 'audit', SQS_DLQ_NAME: 'audit-dlq' } });
    sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: pipeline.fauxqs.endpoint,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
  }, 60_000);
  afterAll(async () => {
    sqs?.destroy();
    await pipeline?.close();
  });

  it('ends in the dead-letter queue with its reason and does not hold up the others', async () => {
    const urlOf = async (name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    const queueUrl = await urlOf('audit');
    const acknowledged: string[] = [];
    acknowledged.push(...(await postEvents(pipeline.log.url, 'tenant-a', sampleEvent(1))).acknowledged);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"truncated": ' }));
    acknowledged.push(...(await postEvents(pipeline.log.url, 'tenant-a', [sampleEvent(2), sampleEvent(3)])).acknowledged);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify([{ ...sampleEvent(4), id: 'no-tenant' }]) }));
    acknowledged.push(...(await postEvents(pipeline.log.url, 'tenant-b', sampleEvent(5))).acknowledged);
    expect(acknowledged).toHaveLength(4);

    await expect.poll(() => pipeline.storedCounts().size >= 4, { timeout: 30_000, interval: 100 }).toBe(true);
    expect(notStoredOnce(pipeline, acknowledged)).toEqual([]);

    const dead: { body: string | undefined; reason: string | undefined }[] = [];
    const dlqUrl = await urlOf('audit-dlq');
    await expect
      .poll(
        async () => {
          const received = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }),
          );
          for (const message of received.Messages ?? [])
            dead.push({ body: message.Body, reason: message.MessageAttributes?.reason?.StringValue });
          return dead.length >= 2;
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBe(true);
    expect(dead.sort((a, b) => (a.reason ?? '').localeCompare(b.reason ?? ''))).toEqual([
      { body: expect.stringContaining('no-tenant'), reason: expect.stringMatching(/^not a list of log events: 0\.tenant_id/) },
      { body: '{"truncated": ', reason: expect.stringMatching(/^not JSON/) },
    ]);
    const metrics = await (await fetch(`${pipeline.worker?.url}/metrics`)).text();
    expect(metrics).toMatch(/^log_worker_messages_dead_lettered_total 2$/m);
    const stats = await workerStats(pipeline.worker);
    expect(stats).toMatchObject({ messages_dead_lettered: 2, events_stored: 4 });
  }, 90_000);
});
