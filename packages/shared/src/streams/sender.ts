import type { LogEvent } from '../schemas/log-event.js';
import type { TenantId } from '../store/tenant-id.js';

/** Events sent in one request: consecutive in the destination's commit order (or one dead letter replayed). */
export interface Batch {
  /** Stable for the same events: the webhook-id and the S3 object key, so a receiver can drop a batch sent twice. */
  id: string;
  tenant: TenantId;
  destinationId: string;
  events: readonly LogEvent[];
  firstPosition: number;
  lastPosition: number;
}

/** One destination's delivery, built from its settings and opened secrets. */
export interface Sender {
  /** Resolves once the destination accepted the whole batch; throws DeliveryFailed otherwise (or the signal's reason once aborted). */
  send(batch: Batch, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * A batch the destination did not accept. `permanent` failures (a 4xx other than 408/429, a refused
 * address) are not retried: the batch goes to the dead-letter list at once.
 */
export class DeliveryFailed extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'DeliveryFailed';
  }
}

/** HTTP statuses worth retrying: the destination may accept the same batch later. */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

export const batchId = (destinationId: string, first: number, last: number): string => `${destinationId}_${first}_${last}`;
