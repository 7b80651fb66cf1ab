import type { AddressPolicy } from './address-policy.js';
import type { DestinationKind, DestinationSecrets, DestinationSettings } from './destination.js';
import { DatadogSender, SplunkHecSender, WebhookSender } from './http-senders.js';
import { S3Sender } from './s3-sender.js';
import { guardedDispatcher } from './safe-connect.js';
import type { Sender } from './sender.js';

/** Builds the sender of a destination's kind; every connection it makes goes through the policy. */
export function createSender(
  kind: DestinationKind,
  settings: Record<string, unknown>,
  secrets: Record<string, unknown>,
  options: { policy: AddressPolicy; timeoutMs: number },
): Sender {
  const ca = typeof settings.ca === 'string' ? settings.ca : undefined;
  const dispatcher = () => guardedDispatcher(options.policy, { ca, timeoutMs: options.timeoutMs });
  switch (kind) {
    case 'webhook':
      return new WebhookSender(
        dispatcher(),
        settings as DestinationSettings['webhook'],
        secrets as DestinationSecrets['webhook'],
        options.timeoutMs,
      );
    case 'splunk_hec':
      return new SplunkHecSender(
        dispatcher(),
        settings as DestinationSettings['splunk_hec'],
        secrets as DestinationSecrets['splunk_hec'],
        options.timeoutMs,
      );
    case 'datadog':
      return new DatadogSender(
        dispatcher(),
        settings as DestinationSettings['datadog'],
        secrets as DestinationSecrets['datadog'],
        options.timeoutMs,
      );
    case 's3':
      return new S3Sender(
        options.policy,
        settings as DestinationSettings['s3'] & { ca?: string },
        secrets as DestinationSecrets['s3'],
        options.timeoutMs,
      );
  }
}
