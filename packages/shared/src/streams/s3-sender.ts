import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { type AddressPolicy, DestinationRefused } from './address-policy.js';
import type { DestinationSecrets, DestinationSettings } from './destination.js';
import { guardedNodeAgents } from './safe-connect.js';
import { type Batch, DeliveryFailed, isRetryableStatus, type Sender } from './sender.js';

const gzipAsync = promisify(gzip);

/**
 * An S3-compatible bucket: one gzipped NDJSON object per batch, keyed by tenant, the day its first
 * event was received and the batch's commit positions (`<prefix><tenant>/2026/12/01/<first>-<last>.ndjson.gz`,
 * positions zero-padded so keys sort in commit order), so a batch sent again writes the same object
 * again instead of a second copy.
 */
export class S3Sender implements Sender {
  /** Made on the first send: the SDK is a large import that a process without S3 destinations never needs. */
  private client: Promise<{ client: S3Client; PutObjectCommand: typeof import('@aws-sdk/client-s3').PutObjectCommand }> | null = null;

  constructor(
    private readonly policy: AddressPolicy,
    private readonly settings: DestinationSettings['s3'] & { ca?: string },
    private readonly secrets: DestinationSecrets['s3'],
    private readonly timeoutMs: number,
  ) {}

  private open() {
    this.client ??= import('@aws-sdk/client-s3').then(({ S3Client, PutObjectCommand }) => {
      const { settings, secrets, timeoutMs } = this;
      const agents = guardedNodeAgents(this.policy, { ca: settings.ca, timeoutMs });
      const client = new S3Client({
        region: settings.region,
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        forcePathStyle: settings.force_path_style,
        credentials: { accessKeyId: secrets.access_key_id, secretAccessKey: secrets.secret_access_key },
        // The retries are the deliverer's (backoff, dead letters); the SDK tries once.
        maxAttempts: 1,
        requestHandler: { ...agents, requestTimeout: timeoutMs, connectionTimeout: timeoutMs, throwOnRequestTimeout: true },
      });
      return { client, PutObjectCommand };
    });
    return this.client;
  }

  objectKey(batch: Batch): string {
    const day = (batch.events[0]?.received_at ?? new Date().toISOString()).slice(0, 10).replaceAll('-', '/');
    const width = (n: number) => String(n).padStart(12, '0');
    return `${this.settings.prefix}${batch.tenant}/${day}/${width(batch.firstPosition)}-${width(batch.lastPosition)}.ndjson.gz`;
  }

  async send(batch: Batch, signal: AbortSignal): Promise<void> {
    const body = await gzipAsync(Buffer.from(`${batch.events.map((event) => JSON.stringify(event)).join('\n')}\n`));
    const { client, PutObjectCommand } = await this.open();
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: this.objectKey(batch),
          Body: body,
          ContentType: 'application/x-ndjson',
          ContentEncoding: 'gzip',
          Metadata: { 'batch-id': batch.id, events: String(batch.events.length) },
        }),
        { abortSignal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) },
      );
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
        if (cause instanceof DestinationRefused) throw new DeliveryFailed(`refused: ${cause.message}`, true);
      }
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new DeliveryFailed(status ? `HTTP ${status}: ${message}` : message, status !== undefined && !isRetryableStatus(status));
    }
  }

  async close(): Promise<void> {
    (await this.client)?.client.destroy();
  }
}
