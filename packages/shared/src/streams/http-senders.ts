import { Webhook } from 'standardwebhooks';
import { type Agent, fetch } from 'undici';
import { DestinationRefused } from './address-policy.js';
import type { DestinationSecrets, DestinationSettings } from './destination.js';
import { type Batch, DeliveryFailed, isRetryableStatus, type Sender } from './sender.js';

/** The first cause that is a DestinationRefused, if any: fetch wraps connection errors in a TypeError. */
function refusalIn(error: unknown): DestinationRefused | null {
  for (let cause = error; cause instanceof Error; cause = cause.cause) if (cause instanceof DestinationRefused) return cause;
  return null;
}

const describe = (error: unknown): string => {
  const parts: string[] = [];
  for (let cause = error; cause instanceof Error; cause = cause.cause) parts.push(cause.message);
  return parts.join(': ') || String(error);
};

/** POSTs one body through the destination's guarded dispatcher; throws DeliveryFailed unless it answers 2xx. */
async function post(
  dispatcher: Agent,
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<void> {
  let response: Awaited<ReturnType<typeof fetch>>;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers,
      body,
      dispatcher,
      redirect: 'follow',
      signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
    });
  } catch (error) {
    if (stop.aborted) throw stop.reason;
    const refused = refusalIn(error);
    if (refused) throw new DeliveryFailed(`refused: ${refused.message}`, true);
    throw new DeliveryFailed(describe(error), false);
  }
  // The answer's body is read (and dropped) so that the connection can be reused; at most what the receiver sends.
  const text = await response.text().catch(() => '');
  if (response.status >= 200 && response.status < 300) return;
  throw new DeliveryFailed(`HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`, !isRetryableStatus(response.status));
}

const joinPath = (base: string, path: string) => `${base.replace(/\/+$/, '')}${path}`;

/**
 * Standard Webhooks (standardwebhooks.com): `webhook-id` is the batch id (the same on every retry of
 * the batch, so the receiver can drop a repeat), `webhook-timestamp` the send time in seconds, and
 * `webhook-signature` `v1,<base64 HMAC-SHA256 of id.timestamp.body>` under the whsec_ secret.
 */
export class WebhookSender implements Sender {
  private readonly webhook: Webhook;

  constructor(
    private readonly dispatcher: Agent,
    private readonly settings: DestinationSettings['webhook'],
    secrets: DestinationSecrets['webhook'],
    private readonly timeoutMs: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.webhook = new Webhook(secrets.signing_secret);
  }

  async send(batch: Batch, signal: AbortSignal): Promise<void> {
    const sentAt = this.now();
    const body = JSON.stringify({
      type: 'audit_log.events',
      timestamp: sentAt.toISOString(),
      data: { tenant: batch.tenant, events: batch.events },
    });
    const headers = {
      'content-type': 'application/json',
      'webhook-id': batch.id,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
      'webhook-signature': this.webhook.sign(batch.id, sentAt, body),
    };
    await post(this.dispatcher, this.settings.url, headers, body, this.timeoutMs, signal);
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

/**
 * Splunk HTTP Event Collector: the JSON endpoint `/services/collector/event`, one event object per
 * audit event, concatenated (HEC's batch form), `time` in epoch seconds from the event's timestamp.
 */
export class SplunkHecSender implements Sender {
  constructor(
    private readonly dispatcher: Agent,
    private readonly settings: DestinationSettings['splunk_hec'],
    private readonly secrets: DestinationSecrets['splunk_hec'],
    private readonly timeoutMs: number,
  ) {}

  async send(batch: Batch, signal: AbortSignal): Promise<void> {
    const body = batch.events
      .map((event) =>
        JSON.stringify({
          time: Date.parse(event.timestamp) / 1000,
          source: 'logserver',
          sourcetype: this.settings.sourcetype ?? 'logserver:audit',
          ...(this.settings.index ? { index: this.settings.index } : {}),
          fields: { tenant_id: batch.tenant },
          event,
        }),
      )
      .join('\n');
    const headers = {
      'content-type': 'application/json',
      authorization: `Splunk ${this.secrets.token}`,
      'x-splunk-request-channel': batch.destinationId,
    };
    await post(this.dispatcher, joinPath(this.settings.url, '/services/collector/event'), headers, body, this.timeoutMs, signal);
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

/** Datadog logs intake v2 (`/api/v2/logs`, `DD-API-KEY`): a JSON array, one log per event (at most 1000, 5 MB a request). */
export class DatadogSender implements Sender {
  constructor(
    private readonly dispatcher: Agent,
    private readonly settings: DestinationSettings['datadog'],
    private readonly secrets: DestinationSecrets['datadog'],
    private readonly timeoutMs: number,
  ) {}

  async send(batch: Batch, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(
      batch.events.map((event) => ({
        ddsource: 'logserver',
        service: this.settings.service ?? 'logserver',
        hostname: 'logserver',
        ddtags: [`tenant:${batch.tenant}`, this.settings.tags].filter(Boolean).join(','),
        status: event.severity.toLowerCase(),
        message: `${event.action} ${event.resource_type}${event.resource_id ? ` ${event.resource_id}` : ''}`,
        timestamp: Date.parse(event.timestamp),
        audit: event,
      })),
    );
    const headers = { 'content-type': 'application/json', 'dd-api-key': this.secrets.api_key };
    await post(this.dispatcher, joinPath(this.settings.url, '/api/v2/logs'), headers, body, this.timeoutMs, signal);
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
