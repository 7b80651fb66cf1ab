import { randomUUID } from 'node:crypto';
import type { StreamLog } from '../feed/port.js';
import { AddressPolicy } from './address-policy.js';
import { type StreamSettings, type StreamsConfig, streamSettingsFrom } from './config.js';
import { StreamAdmin } from './destinations.js';
import type { StreamStore } from './port.js';
import { parseSecretKey, parseSecretKeys, SecretBox } from './secret-box.js';

export interface StreamParts {
  box: SecretBox;
  policy: AddressPolicy;
  settings: StreamSettings;
}

/**
 * The key (and the keys a rotation retired), address policy and bounds from the STREAM_* settings;
 * null when STREAM_SECRET_KEY is not set (streams are off).
 */
export function streamPartsFrom(
  config: StreamsConfig,
  key: string | undefined = config.STREAM_SECRET_KEY,
  previous: string | undefined = config.STREAM_SECRET_KEY_PREVIOUS,
): StreamParts | null {
  const bytes = key === undefined ? null : parseSecretKey(key);
  if (bytes === null) return null;
  const retired = previous === undefined ? [] : parseSecretKeys(previous);
  if (retired === null) throw new Error('STREAM_SECRET_KEY_PREVIOUS: not a comma list of 32-byte keys');
  return {
    box: new SecretBox(bytes, retired),
    policy: AddressPolicy.fromSetting(config.STREAM_DESTINATION_ALLOW),
    settings: streamSettingsFrom(config),
  };
}

/** The /api/v1/streams rules over a store and commit log (deferred ones in a service that opens them later). */
export function streamAdmin(parts: StreamParts, store: StreamStore, streamLog: Pick<StreamLog, 'after' | 'head'>): StreamAdmin {
  return new StreamAdmin({ ...parts, store, streamLog, newId: randomUUID, now: () => new Date() });
}
