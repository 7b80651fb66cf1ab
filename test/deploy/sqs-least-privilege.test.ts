// Production never creates queues, and each service's IAM policy (k8s/overlays/prod/iam) allows
// what that service calls: the prod overlay's settings drive the real SqsLogQueue against fauxqs,
// which records every SQS action it serves.
import { readFileSync } from 'node:fs';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { loadConfig } from '@logserver/shared/config/load-config';
import { queueConfig, sqsOptions } from '@logserver/shared/config/schemas';
import { SqsLogQueue } from '@logserver/shared/sqs/log-queue';
import { makeEvent } from '@logserver/testing/events';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type KubeObject, kustomize } from '../../scripts/deploy/kustomize.js';
import { REPO_ROOT } from '../gateway/topology.js';
import { type Fauxqs, startFauxqs } from '../support/fauxqs.js';

const prod = kustomize(`${REPO_ROOT}k8s/overlays/prod`);
const dev = kustomize(`${REPO_ROOT}k8s/overlays/dev`);
const configMap = (objects: KubeObject[]) =>
  objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'logserver-config')?.data as Record<string, string>;

interface Policy {
  Statement: { Effect: string; Action: string[]; Resource: string[] }[];
}
const policy = (service: string) => JSON.parse(readFileSync(`${REPO_ROOT}k8s/overlays/prod/iam/${service}.json`, 'utf8')) as Policy;
const allowed = (service: string) => new Set(policy(service).Statement.flatMap((statement) => statement.Action));

/** The IAM action that authorizes an SQS API action (the batch calls are authorized by their single form). */
const IAM_ACTION: Record<string, string> = {
  SendMessageBatch: 'sqs:SendMessage',
  DeleteMessageBatch: 'sqs:DeleteMessage',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
};
const iamAction = (action: string) => IAM_ACTION[action] ?? `sqs:${action}`;

/** The prod overlay's queue settings as a service parses them, pointed at this test's SQS. */
function prodQueueSettings(endpoint: string) {
  const config = loadConfig(z.object(queueConfig), { ...configMap(prod), SQS_URL: endpoint, SQS_WAIT_TIME_SECONDS: '1' });
  return sqsOptions.parse(config);
}

let fauxqs: Fauxqs | undefined;
afterEach(async () => {
  await fauxqs?.stop();
  fauxqs = undefined;
});

const actionsSince = (before: Record<string, number>) =>
  Object.keys(fauxqs?.requests ?? {}).filter((action) => (fauxqs?.requests[action] ?? 0) > (before[action] ?? 0));

/** What an operator provisions before deploying: both queues and the redrive policy. */
async function provisionQueues(endpoint: string): Promise<SQSClient> {
  const admin = new SQSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const dlq = await admin.send(new CreateQueueCommand({ QueueName: 'log-queue-dlq' }));
  const arn = (await admin.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes
    ?.QueueArn;
  const main = await admin.send(new CreateQueueCommand({ QueueName: 'log-queue' }));
  await admin.send(
    new SetQueueAttributesCommand({
      QueueUrl: main.QueueUrl,
      Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: '5' }) },
    }),
  );
  return admin;
}

describe('the prod overlay never creates queues', () => {
  it('sets SQS_CREATE_QUEUES=false in prod; local (dev overlay, compose default) creates them', () => {
    expect(configMap(prod).SQS_CREATE_QUEUES).toBe('false');
    expect(configMap(dev).SQS_CREATE_QUEUES ?? 'true').not.toBe('false');
    expect(readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8')).not.toMatch(/SQS_CREATE_QUEUES:\s*["']?false/);
  });

  it('with the prod settings and no queues, opening fails and nothing is created', async () => {
    fauxqs = await startFauxqs();
    await expect(SqsLogQueue.open(prodQueueSettings(fauxqs.endpoint))).rejects.toThrow(/cannot reach SQS/);
    expect(fauxqs.requests.CreateQueue ?? 0).toBe(0);
    expect(fauxqs.requests.SetQueueAttributes ?? 0).toBe(0);
    expect(fauxqs.requests.GetQueueUrl).toBeGreaterThan(0);
    const client = new SQSClient({
      region: 'us-east-1',
      endpoint: fauxqs.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    expect((await client.send(new ListQueuesCommand({}))).QueueUrls ?? []).toEqual([]);
    client.destroy();
  });
});

describe('least-privilege IAM policies (k8s/overlays/prod/iam)', () => {
  it('each prod Deployment that reaches SQS runs as its own ServiceAccount with its own role', () => {
    for (const service of ['log', 'log-worker']) {
      const deployment = prod.find((o) => o.kind === 'Deployment' && o.metadata.name === service);
      const account = deployment?.spec.template.spec.serviceAccountName;
      expect(account).toBe(`logserver-${service}`);
      const serviceAccount = prod.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === account);
      expect(serviceAccount?.metadata.annotations?.['eks.amazonaws.com/role-arn']).toMatch(new RegExp(`:role/logserver-${service}$`));
    }
    for (const service of ['auth', 'tenant']) {
      const deployment = prod.find((o) => o.kind === 'Deployment' && o.metadata.name === service);
      expect(deployment?.spec.template.spec.serviceAccountName).toBeUndefined();
    }
  });

  it('no policy may create, change, purge or delete a queue, or use a wildcard', () => {
    for (const service of ['log', 'log-worker']) {
      for (const statement of policy(service).Statement) {
        expect(statement.Effect).toBe('Allow');
        for (const action of statement.Action) {
          expect(action, service).toMatch(/^sqs:[A-Z][A-Za-z]+$/);
          expect(['sqs:CreateQueue', 'sqs:SetQueueAttributes', 'sqs:DeleteQueue', 'sqs:PurgeQueue']).not.toContain(action);
        }
        for (const resource of statement.Resource) expect(resource).toMatch(/^arn:aws:sqs:us-east-1:123456789012:log-queue(-dlq)?$/);
      }
    }
  });

  it('the log service, with the prod settings, calls only what log.json allows', async () => {
    fauxqs = await startFauxqs();
    const admin = await provisionQueues(fauxqs.endpoint);
    const before = { ...fauxqs.requests };
    const queue = await SqsLogQueue.open(prodQueueSettings(fauxqs.endpoint));
    await queue.publish([makeEvent('acme', {}), makeEvent('acme', {})]);
    await queue.ping();
    await queue.close();
    const used = actionsSince(before);
    expect(used).toEqual(expect.arrayContaining(['GetQueueUrl', 'SendMessageBatch', 'GetQueueAttributes']));
    expect(used.map(iamAction).filter((action) => !allowed('log').has(action))).toEqual([]);
    admin.destroy();
  });

  it('the log-worker, with the prod settings, calls only what log-worker.json allows (receive, delete, dead-letter)', async () => {
    fauxqs = await startFauxqs();
    const admin = await provisionQueues(fauxqs.endpoint);
    const { QueueUrl } = await admin.send(new CreateQueueCommand({ QueueName: 'log-queue' }));
    await admin.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify([makeEvent('acme', {})]) }));
    await admin.send(new SendMessageCommand({ QueueUrl, MessageBody: 'not an event' }));
    const before = { ...fauxqs.requests };
    const queue = await SqsLogQueue.open(prodQueueSettings(fauxqs.endpoint));
    let stored = 0;
    await queue.consume(async (events) => {
      stored += events.length;
    });
    await expect
      .poll(() => stored === 1 && queue.stats.messagesDeadLettered === 1 && queue.stats.messagesDeleted >= 1, {
        timeout: 15_000,
        interval: 100,
      })
      .toBe(true);
    expect({ stored, deadLettered: queue.stats.messagesDeadLettered }).toEqual({ stored: 1, deadLettered: 1 });
    await queue.ping();
    await queue.close();
    const used = actionsSince(before);
    expect(used).toEqual(expect.arrayContaining(['GetQueueUrl', 'ReceiveMessage', 'DeleteMessageBatch', 'GetQueueAttributes']));
    expect(used.map(iamAction).filter((action) => !allowed('log-worker').has(action))).toEqual([]);
    expect(used).not.toContain('CreateQueue');
    admin.destroy();
  }, 30_000);
});
