import { z } from 'zod';
import { LogEvent } from '../schemas/log-event.js';

/**
 * An event as SQS message text. SQS accepts only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
 * #x10000-#x10FFFF (and some servers, fauxqs among them, refuse more), so one event holding U+FFFF
 * made every message it was packed into fail, other tenants' events with it. Escaping every
 * character beyond ASCII as \uXXXX (JSON's own escape; outside strings JSON is ASCII already)
 * leaves a body any SQS accepts and JSON.parse reads back unchanged. It costs at most three times
 * the UTF-8 bytes of non-ASCII text, which the event limits leave room for.
 */
export function sqsMessageText(event: unknown): string {
  return JSON.stringify(event).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One SQS message body: the JSON array of the events it carries, and where they came from. */
export interface PackedMessage {
  body: string;
  /** Positions of the carried events in the list that was packed. */
  indexes: number[];
  bytes: number;
}

/**
 * Packs serialized events into as few message bodies as fit `maxMessageBytes` each, keeping their
 * order. Each body is a JSON array, so it costs two bytes plus one comma per event beyond the events.
 * An event too large to fit alone still gets a message of its own; SQS then refuses that one entry.
 */
export function packMessages(serialized: readonly string[], maxMessageBytes: number): PackedMessage[] {
  const messages: PackedMessage[] = [];
  let parts: string[] = [];
  let indexes: number[] = [];
  let bytes = 2;
  const flush = () => {
    if (parts.length === 0) return;
    messages.push({ body: `[${parts.join(',')}]`, indexes, bytes });
    parts = [];
    indexes = [];
    bytes = 2;
  };
  serialized.forEach((event, index) => {
    const size = Buffer.byteLength(event);
    if (parts.length > 0 && bytes + 1 + size > maxMessageBytes) flush();
    bytes += (parts.length > 0 ? 1 : 0) + size;
    parts.push(event);
    indexes.push(index);
  });
  flush();
  return messages;
}

/** Groups messages into SendMessageBatch requests: at most `maxEntries` each and `maxBatchBytes` in all. */
export function groupBatches<T extends { bytes: number }>(messages: readonly T[], maxEntries: number, maxBatchBytes: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    if (current.length > 0 && (current.length === maxEntries || bytes + message.bytes > maxBatchBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += message.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

const MessageBody = z.array(LogEvent).min(1);

export type ParsedMessage = { ok: true; events: LogEvent[] } | { ok: false; reason: string };

/** Reads a message body back into events, or says in one line why it cannot be stored. */
export function parseMessageBody(body: string | undefined): ParsedMessage {
  let value: unknown;
  try {
    value = JSON.parse(body ?? '');
  } catch (error) {
    return { ok: false, reason: `not JSON: ${error instanceof Error ? error.message : String(error)}`.slice(0, 256) };
  }
  const parsed = MessageBody.safeParse(value);
  if (parsed.success) return { ok: true, events: parsed.data };
  const issues = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
  return { ok: false, reason: `not a list of log events: ${issues.join('; ')}`.slice(0, 256) };
}
