import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import DataLoader from 'dataloader';
import pRetry from 'p-retry';
import { sqsOptions } from '../config/schemas.js';
import { NotQueueable, Unavailable } from '../errors/catalogue.js';
import type { BatchHandler, LogQueue } from '../queue/port.js';
import type { LogEvent } from '../schemas/log-event.js';
import { groupBatches, type PackedMessage, packMessages, parseMessageBody, sqsMessageText } from './packing.js';

export interface SqsLogQueueOptions {
  /** SQS endpoint for ElasticMQ or fauxqs; unset means AWS for the region. */
  endpoint?: string | undefined;
  region: string;
  queueName: string;
  dlqName: string;
  /** Receives before SQS moves a message that keeps failing to the dead-letter queue. */
  maxReceiveCount: number;
  /** Long-poll wait of each ReceiveMessage (0-20 s). */
  waitTimeSeconds?: number;
  /** Receive loops running at once. */
  receivers?: number;
  /** How long a received message stays hidden; extended while its batch is being stored. */
  visibilityTimeoutSeconds?: number;
  /** Longest a publish waits for SQS before the client is told 503. */
  publishTimeoutMs?: number;
  /** How long concurrent publishes are gathered into one SendMessageBatch. */
  gatherMs?: number;
  /**
   * SendMessageBatch requests in flight at once. While they are, further publishes keep gathering
   * (a group commit): under load each request carries what arrived during the last one, so the
   * requests per event fall as the load rises, without a longer fixed wait for anyone.
   */
  maxSendsInFlight?: number;
  /**
   * After a receive that was not full (fewer than 10 messages), a receive loop waits this long
   * before the next one, so messages gather and each ReceiveMessage and DeleteMessageBatch carries
   * several. A full receive is followed at once (a backlog drains at full speed). It delays storing
   * (and the stream), never the acknowledgement of a POST, which is SQS's.
   */
  receiveGatherMs?: number;
  /** SQS's limit on one message (256 KiB, the classic limit every SQS-compatible server accepts). */
  maxMessageBytes?: number;
  /** SQS's limit on the sum of one SendMessageBatch's bodies. */
  maxBatchBytes?: number;
  /**
   * Create both queues and the redrive policy when missing (CreateQueue, SetQueueAttributes): on for
   * local SQS (ElasticMQ, fauxqs); off in production, where the queues are provisioned and the IAM
   * role may only look them up (GetQueueUrl). Default on.
   */
  createQueues?: boolean;
  /** A client of one's own (tests wrap it with middleware); closed by its owner, not by the queue. */
  client?: SQSClient;
  logger?: QueueLogger;
}

export interface QueueLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** What the consuming side has done since start; the worker's /stats and /metrics read it. */
export interface SqsConsumerStats {
  messagesReceived: number;
  messagesDeleted: number;
  /** Messages whose batch the handler could not store; SQS delivers them again. */
  messagesFailed: number;
  messagesDeadLettered: number;
  receiveErrors: number;
  /**
   * Messages deleted after their visibility timeout may have run out: no extension reached SQS for
   * a whole timeout (the event loop was held, or extending failed). SQS may have made them visible
   * again, and then the delete's receipt handle is stale and SQS still answers success: they come
   * back, and their events are counted as duplicates, never stored twice.
   */
  visibilityLapses: number;
  lastReceivedAt: string | null;
}

interface QueueUrls {
  url: string;
  dlqUrl: string;
}

/** Some entries of a SendMessageBatch were refused for a reason on SQS's side; only they are sent again. */
class EntriesFailed extends Error {
  constructor(readonly codes: string[]) {
    super(`SQS refused ${codes.length} entries: ${[...new Set(codes)].join(', ')}`);
  }
}

const MAX_BATCH_ENTRIES = 10;
/** The queue fragment's defaults (config/schemas.ts), for options a caller leaves out. */
const DEFAULTS = sqsOptions.parse({});

/** Rejects with the signal's reason once it aborts, so a shared promise can be awaited with a deadline. */
function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** An SQS error that says the request itself was wrong (4xx), not that SQS failed: retrying it unchanged fails again. */
const isSenderFault = (error: unknown): boolean =>
  typeof error === 'object' &&
  error !== null &&
  (error as { $fault?: string }).$fault === 'client' &&
  !(error instanceof QueueDoesNotExist);

const receiveCount = (message: Message): number => Number(message.Attributes?.ApproximateReceiveCount ?? 1);
const quiet: QueueLogger = { warn: () => {}, error: () => {} };

/**
 * A local SQS (ElasticMQ, fauxqs) accepts any key, so one is made up when none is configured. On
 * AWS (an amazonaws.com endpoint) the default provider chain finds the real ones: keys in the
 * environment, or the pod's IAM role (IRSA) in the prod overlay.
 */
export function localCredentials(
  endpoint: string | undefined,
  env: Record<string, string | undefined>,
): { credentials?: { accessKeyId: string; secretAccessKey: string } } {
  if (!endpoint || env.AWS_ACCESS_KEY_ID) return {};
  if (/(^|\.)amazonaws\.com(\.cn)?$/.test(new URL(endpoint).hostname)) return {};
  return { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}

/**
 * LogQueue on SQS (AWS SQS, ElasticMQ, fauxqs). Publishing packs many events into each message and
 * up to ten messages into each SendMessageBatch, so the cost per event is a small fraction of a
 * request; a publish resolves only once SQS accepted every message that carries its events.
 * Consuming runs several long-poll loops; a batch is deleted only after the handler stored it.
 */
export class SqsLogQueue implements LogQueue {
  readonly stats: SqsConsumerStats = {
    messagesReceived: 0,
    messagesDeleted: 0,
    messagesFailed: 0,
    messagesDeadLettered: 0,
    receiveErrors: 0,
    visibilityLapses: 0,
    lastReceivedAt: null,
  };
  private readonly client: SQSClient;
  private readonly ownsClient: boolean;
  private readonly log: QueueLogger;
  private readonly settings: Required<Omit<SqsLogQueueOptions, 'endpoint' | 'client' | 'logger'>>;
  private urls: Promise<QueueUrls> | null = null;
  private closed = false;
  private readonly stopReceiving = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly loader: DataLoader<string, true>;
  private sendsInFlight = 0;
  /** Gathered batches waiting for a send slot, oldest first. */
  private readonly waitingForSlot: (() => void)[] = [];
  /** When the batch being dispatched began to gather: its publish timeout counts from then, the wait for a slot included. */
  private dispatchingSince = 0;

  private constructor(options: SqsLogQueueOptions) {
    this.settings = {
      region: options.region,
      queueName: options.queueName,
      dlqName: options.dlqName,
      maxReceiveCount: options.maxReceiveCount,
      waitTimeSeconds: options.waitTimeSeconds ?? DEFAULTS.waitTimeSeconds,
      receivers: options.receivers ?? DEFAULTS.receivers,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? DEFAULTS.visibilityTimeoutSeconds,
      publishTimeoutMs: options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
      gatherMs: options.gatherMs ?? DEFAULTS.gatherMs,
      maxSendsInFlight: options.maxSendsInFlight ?? 1,
      receiveGatherMs: options.receiveGatherMs ?? DEFAULTS.receiveGatherMs,
      maxMessageBytes: options.maxMessageBytes ?? 256 * 1024,
      maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      createQueues: options.createQueues ?? true,
    };
    this.log = options.logger ?? quiet;
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      new SQSClient({
        region: options.region,
        endpoint: options.endpoint,
        ...localCredentials(options.endpoint, process.env),
        // The SDK retries transport failures itself (standard strategy, with backoff).
        maxAttempts: 3,
        // Longer than a long poll, so only a server that stopped answering times out.
        requestHandler: { connectionTimeout: 2_000, requestTimeout: (this.settings.waitTimeSeconds + 10) * 1000 },
      });
    this.loader = new DataLoader<string, true>((serialized) => this.sendWithSlot(serialized), {
      cache: false,
      // Gathering for a few milliseconds turns many concurrent single-event POSTs into one request,
      // and a batch keeps gathering until a send slot is free (maxSendsInFlight).
      batchScheduleFn: (flush) => {
        const gatheredSince = Date.now();
        setTimeout(() => this.whenSlotFree(flush, gatheredSince), this.settings.gatherMs);
      },
      maxBatchSize: 5_000,
    });
  }

  /**
   * Connects and gets (or, with createQueues, creates) the queue and its dead-letter queue; throws
   * when SQS cannot be reached or a queue to look up does not exist.
   */
  static async open(options: SqsLogQueueOptions): Promise<SqsLogQueue> {
    const queue = new SqsLogQueue(options);
    try {
      await queue.queueUrls();
    } catch (error) {
      await queue.close();
      const where = options.endpoint ?? `AWS SQS in ${options.region}`;
      throw new Unavailable(`cannot reach SQS at ${where} (${error instanceof Error ? error.message : String(error)}); check SQS_URL`);
    }
    return queue;
  }

  /**
   * Throws NotQueueable (422) before anything is sent when an event cannot fit one message, and
   * when SQS refused an event sent on its own; Unavailable (503) when SQS did not take the rest.
   */
  async publish(events: LogEvent[]): Promise<void> {
    if (this.closed) throw new Unavailable('the queue is closed');
    const serialized = events.map(sqsMessageText);
    const room = this.settings.maxMessageBytes - 2;
    const tooLarge = serialized.flatMap((text, index) => (Buffer.byteLength(text) > room ? [index] : []));
    if (tooLarge.length > 0) throw new NotQueueable(tooLarge, `larger than one queue message (${room} bytes as queued)`);
    const results = await this.loader.loadMany(serialized);
    const refused = results.flatMap((result, index) => (result instanceof NotQueueable ? [index] : []));
    if (refused.length > 0) throw new NotQueueable(refused, 'the queue refused the event');
    if (results.some((result) => result instanceof Error)) throw new Unavailable('the queue did not accept the events; try again');
  }

  async consume(handler: BatchHandler): Promise<void> {
    await this.queueUrls();
    for (let index = 0; index < this.settings.receivers; index++) this.loops.push(this.receiveLoop(handler));
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Unavailable('the queue is closed');
    try {
      const { url } = await this.queueUrls();
      await this.client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }), {
        abortSignal: AbortSignal.timeout(2_000),
      });
    } catch (error) {
      this.forgetMissingQueue(error);
      throw new Unavailable('SQS does not answer');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopReceiving.abort();
    // Each loop finishes the batch it holds (store, then delete) before it returns.
    await Promise.allSettled(this.loops);
    if (this.ownsClient) this.client.destroy();
  }

  /** The queue URLs, creating both queues and the redrive policy the first time (and again if SQS lost them). */
  private queueUrls(): Promise<QueueUrls> {
    if (!this.urls) {
      this.urls = this.settings.createQueues ? this.createQueues() : this.lookUpQueues();
      this.urls.catch(() => {
        this.urls = null;
      });
    }
    return this.urls;
  }

  /** SQS_CREATE_QUEUES=false: the queues exist already (provisioned with their redrive policy); only their URLs are read. */
  private async lookUpQueues(): Promise<QueueUrls> {
    const { queueName, dlqName } = this.settings;
    const lookUp = async (name: string) => {
      const { QueueUrl } = await this.client.send(new GetQueueUrlCommand({ QueueName: name }));
      if (!QueueUrl) throw new Error(`SQS returned no URL for ${name}`);
      return QueueUrl;
    };
    const [url, dlqUrl] = await Promise.all([lookUp(queueName), lookUp(dlqName)]);
    return { url, dlqUrl };
  }

  private async createQueues(): Promise<QueueUrls> {
    const { queueName, dlqName, maxReceiveCount } = this.settings;
    const dlq = await this.client.send(new CreateQueueCommand({ QueueName: dlqName }));
    const dlqUrl = dlq.QueueUrl;
    if (!dlqUrl) throw new Error(`SQS returned no URL for ${dlqName}`);
    const attributes = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
    const dlqArn = attributes.Attributes?.QueueArn;
    if (!dlqArn) throw new Error(`SQS returned no ARN for ${dlqName}`);
    const main = await this.client.send(new CreateQueueCommand({ QueueName: queueName }));
    const url = main.QueueUrl;
    if (!url) throw new Error(`SQS returned no URL for ${queueName}`);
    // Set after creation, so a queue made by someone else (or by an older version) gets the policy too.
    await this.client.send(
      new SetQueueAttributesCommand({
        QueueUrl: url,
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: String(maxReceiveCount) }) },
      }),
    );
    return { url, dlqUrl };
  }

  /** An in-memory SQS (ElasticMQ, fauxqs) forgets its queues on restart: make them again on next use. */
  private forgetMissingQueue(error: unknown): boolean {
    if (!(error instanceof QueueDoesNotExist)) return false;
    this.urls = null;
    return true;
  }

  /** Runs `flush` (which dispatches the gathered batch) now if a send slot is free, else once one is. */
  private whenSlotFree(flush: () => void, gatheredSince: number): void {
    const dispatch = () => {
      // DataLoader calls the batch function synchronously inside flush(): sendWithSlot reads this at once.
      this.dispatchingSince = gatheredSince;
      flush();
    };
    if (this.sendsInFlight < this.settings.maxSendsInFlight) {
      // Taken now, so a second batch flushed in the same tick waits for the next slot.
      this.sendsInFlight++;
      dispatch();
    } else this.waitingForSlot.push(dispatch);
  }

  private async sendWithSlot(serialized: readonly string[]): Promise<(true | Error)[]> {
    const waited = Date.now() - this.dispatchingSince;
    try {
      return await this.sendEvents(serialized, Math.max(1, this.settings.publishTimeoutMs - waited));
    } finally {
      const next = this.waitingForSlot.shift();
      // The slot passes straight to the oldest waiting batch, or is given back.
      if (next) next();
      else this.sendsInFlight--;
    }
  }

  /**
   * DataLoader's batch function: each serialized event gets `true` once SQS accepted its message.
   * Concurrent publishes of every tenant share messages, so a message SQS refuses as the sender's
   * fault is split and its events sent again one per message: only the event SQS refuses alone
   * fails (NotQueueable), never another tenant's event packed beside it.
   */
  private async sendEvents(serialized: readonly string[], timeoutMs: number): Promise<(true | Error)[]> {
    // Filled as SQS answers; an event still undefined at the end was not accepted. (An Unavailable per
    // event made up front, stack trace and all, was 1.6 % of the log service's CPU under load.)
    const results: (true | Error | undefined)[] = new Array(serialized.length).fill(undefined);
    const signal = AbortSignal.timeout(timeoutMs);
    const group = (messages: PackedMessage[]) => groupBatches(messages, MAX_BATCH_ENTRIES, this.settings.maxBatchBytes);
    // Each round sends what the last one could not place: a refused message of several events
    // comes back as one message per event, a refused request of several messages as one request
    // per message, so the rounds end with the refused events alone.
    let round = group(packMessages(serialized, this.settings.maxMessageBytes));
    while (round.length > 0) {
      const split: PackedMessage[] = [];
      const separate: PackedMessage[][] = [];
      const refuse = (message: PackedMessage) => {
        if (message.indexes.length > 1) split.push(...message.indexes.map((index) => this.alone(serialized, index)));
        else for (const index of message.indexes) results[index] = new NotQueueable([index], 'refused by SQS');
      };
      await Promise.all(
        round.map(async (batch) => {
          try {
            const sent = await this.sendBatch(batch, signal);
            for (const message of sent.accepted) for (const index of message.indexes) results[index] = true;
            for (const message of sent.refused) refuse(message);
          } catch (error) {
            // A whole request refused as the sender's fault (e.g. InvalidMessageContents) is narrowed down the same way.
            if (!isSenderFault(error) || signal.aborted)
              this.log.error({ err: error, messages: batch.length }, 'SQS did not accept a batch');
            else if (batch.length > 1) separate.push(...batch.map((message) => [message]));
            else for (const message of batch) refuse(message);
          }
        }),
      );
      if (split.length > 0 || separate.length > 0)
        this.log.warn({ split: split.length, separate: separate.length }, 'SQS refused some messages; sending their events apart');
      round = [...separate, ...group(split)];
    }
    if (results.every((result) => result !== undefined)) return results as (true | Error)[];
    const unavailable = new Unavailable('the queue did not accept the events; try again');
    return results.map((result) => result ?? unavailable);
  }

  private alone(serialized: readonly string[], index: number): PackedMessage {
    const body = `[${serialized[index]}]`;
    return { body, indexes: [index], bytes: Buffer.byteLength(body) };
  }

  /**
   * Sends one SendMessageBatch; entries SQS failed on its side are sent again, and the ones it
   * refused as the sender's fault (which fail the same way every time) are returned as refused.
   */
  private async sendBatch(batch: PackedMessage[], signal: AbortSignal): Promise<{ accepted: PackedMessage[]; refused: PackedMessage[] }> {
    let pending = batch.map((message, index) => ({ id: String(index), message }));
    const accepted: PackedMessage[] = [];
    const refused: PackedMessage[] = [];
    await pRetry(
      async () => {
        // Making the queues again (after SQS lost them) counts against the same publish timeout.
        const { url } = await Promise.race([this.queueUrls(), rejectOnAbort(signal)]);
        const response = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: pending.map(({ id, message }) => ({ Id: id, MessageBody: message.body })),
          }),
          { abortSignal: signal },
        );
        const succeeded = new Set((response.Successful ?? []).map((entry) => entry.Id));
        for (const entry of pending) if (succeeded.has(entry.id)) accepted.push(entry.message);
        const failed = response.Failed ?? [];
        // A sender fault (too large, bad characters) fails the same way every time: not sent again as it is.
        const senderFault = new Set(failed.filter((entry) => entry.SenderFault).map((entry) => entry.Id));
        for (const entry of pending) if (senderFault.has(entry.id)) refused.push(entry.message);
        const retriable = new Set(failed.filter((entry) => !entry.SenderFault).map((entry) => entry.Id));
        pending = pending.filter((entry) => retriable.has(entry.id));
        if (pending.length > 0) throw new EntriesFailed(failed.map((entry) => entry.Code ?? 'unknown'));
      },
      {
        retries: 4,
        minTimeout: 50,
        maxTimeout: 1_000,
        signal,
        // Transport errors were already retried by the SDK; only refused entries and a lost queue are worth another go.
        shouldRetry: ({ error }) => error instanceof EntriesFailed || this.forgetMissingQueue(error),
      },
    ).catch((error: unknown) => {
      if (accepted.length === 0 && refused.length === 0) throw error;
      this.log.error({ err: error, failed: batch.length - accepted.length - refused.length }, 'SQS failed some messages');
    });
    return { accepted, refused };
  }

  private async receiveLoop(handler: BatchHandler): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      let messages: Message[];
      let urls: QueueUrls;
      try {
        urls = await this.queueUrls();
        const response = await this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: urls.url,
            MaxNumberOfMessages: MAX_BATCH_ENTRIES,
            WaitTimeSeconds: this.settings.waitTimeSeconds,
            VisibilityTimeout: this.settings.visibilityTimeoutSeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: this.stopReceiving.signal },
        );
        messages = response.Messages ?? [];
        failures = 0;
      } catch (error) {
        if (this.closed) return;
        this.stats.receiveErrors++;
        this.forgetMissingQueue(error);
        this.log.warn({ err: error }, 'receiving from SQS failed; trying again');
        failures++;
        await sleep(Math.min(100 * 2 ** failures, 5_000), undefined, { signal: this.stopReceiving.signal }).catch(() => {});
        continue;
      }
      if (messages.length > 0) await this.processMessages(urls, messages, handler);
      if (messages.length > 0 && messages.length < MAX_BATCH_ENTRIES && this.settings.receiveGatherMs > 0)
        await sleep(this.settings.receiveGatherMs, undefined, { signal: this.stopReceiving.signal }).catch(() => {});
    }
  }

  /**
   * Stores one received batch, then deletes what was stored; what cannot be read goes to the
   * dead-letter queue at once. Messages received for the first time are stored together; one that
   * failed before is stored on its own, so a message the store keeps refusing fails alone and
   * reaches the dead-letter queue (redrive policy) without taking the messages received with it.
   */
  private async processMessages(urls: QueueUrls, messages: Message[], handler: BatchHandler): Promise<void> {
    this.stats.messagesReceived += messages.length;
    this.stats.lastReceivedAt = new Date().toISOString();
    const readable = new Map<Message, LogEvent[]>();
    const poison: Promise<void>[] = [];
    for (const message of messages) {
      const parsed = parseMessageBody(message.Body);
      if (parsed.ok) readable.set(message, parsed.events);
      else poison.push(this.deadLetter(urls, message, parsed.reason));
    }
    await Promise.all(poison);
    if (readable.size === 0) return;
    const fresh = [...readable.keys()].filter((message) => receiveCount(message) <= 1);
    const retried = [...readable.keys()].filter((message) => receiveCount(message) > 1);
    const groups = [...(fresh.length > 0 ? [fresh] : []), ...retried.map((message) => [message])];
    const stored: Message[] = [];
    // When SQS last hid the batch for a whole timeout: at the receive (about), then at each extension.
    const hidden = { since: Date.now() };
    const heartbeat = this.keepHidden(urls.url, [...readable.keys()], hidden);
    try {
      for (const group of groups) {
        try {
          await handler(group.flatMap((message) => readable.get(message) ?? []));
          stored.push(...group);
        } catch (error) {
          // Not deleted: SQS shows the messages again after the visibility timeout, and moves a message
          // that keeps failing to the dead-letter queue after SQS_MAX_RECEIVE_COUNT receives.
          this.stats.messagesFailed += group.length;
          this.log.warn({ err: error, messages: group.length }, 'storing a batch failed; SQS will deliver it again');
        }
      }
    } finally {
      clearInterval(heartbeat);
    }
    if (stored.length === 0) return;
    const heldMs = Date.now() - hidden.since;
    const visibilityTimeoutMs = this.settings.visibilityTimeoutSeconds * 1000;
    if (heldMs >= visibilityTimeoutMs) {
      this.stats.visibilityLapses += stored.length;
      this.log.warn(
        { messages: stored.length, msSinceHidden: heldMs, visibilityTimeoutMs },
        'a stored batch was held past its visibility timeout: SQS may deliver it again (its events are then counted as duplicates, not stored twice)',
      );
    }
    await this.deleteMessages(urls.url, stored);
  }

  /**
   * Extends the batch's invisibility every half timeout, so a slow store never lets SQS hand it to
   * another worker; `hidden.since` moves to each extension SQS accepted in full.
   */
  private keepHidden(url: string, messages: Message[], hidden: { since: number }): NodeJS.Timeout {
    const timeout = this.settings.visibilityTimeoutSeconds;
    return setInterval(
      () => {
        const sent = Date.now();
        this.client
          .send(
            new ChangeMessageVisibilityBatchCommand({
              QueueUrl: url,
              Entries: messages.map((message, index) => ({
                Id: String(index),
                ReceiptHandle: message.ReceiptHandle,
                VisibilityTimeout: timeout,
              })),
            }),
          )
          .then((response) => {
            // Hidden again for a whole timeout from about when it was sent, unless SQS refused an entry.
            if ((response.Failed ?? []).length === 0) hidden.since = Math.max(hidden.since, sent);
          })
          .catch((error: unknown) => this.log.warn({ err: error }, 'extending visibility failed'));
      },
      Math.max(250, (timeout * 1000) / 2),
    );
  }

  private async deleteMessages(url: string, messages: Message[]): Promise<void> {
    let pending = messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle }));
    await pRetry(
      async () => {
        const response = await this.client.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: pending }));
        const failed = new Set((response.Failed ?? []).map((entry) => entry.Id));
        this.stats.messagesDeleted += pending.length - failed.size;
        pending = pending.filter((entry) => failed.has(entry.Id));
        if (pending.length > 0) throw new Error(`SQS did not delete ${pending.length} messages`);
      },
      { retries: 3, minTimeout: 50, maxTimeout: 1_000 },
    ).catch((error: unknown) => {
      // Left undeleted, the messages come back and the store counts them as duplicates: nothing is lost.
      this.log.warn({ err: error }, 'deleting stored messages failed; they will be delivered again');
    });
  }

  /** Sends an unreadable message to the dead-letter queue with the reason, then deletes it from the main queue. */
  private async deadLetter(urls: QueueUrls, message: Message, reason: string): Promise<void> {
    try {
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: urls.dlqUrl,
          MessageBody: message.Body || '(empty)',
          MessageAttributes: {
            reason: { DataType: 'String', StringValue: reason },
            source_message_id: { DataType: 'String', StringValue: message.MessageId ?? 'unknown' },
          },
        }),
      );
    } catch (error) {
      // Still in the main queue: the redrive policy moves it after SQS_MAX_RECEIVE_COUNT receives.
      this.log.warn({ err: error }, 'dead-lettering an unreadable message failed');
      return;
    }
    this.stats.messagesDeadLettered++;
    this.log.warn({ messageId: message.MessageId, reason }, 'unreadable message moved to the dead-letter queue');
    await this.deleteMessages(urls.url, [message]);
  }
}
