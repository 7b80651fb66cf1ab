import type { LogEvent } from '@logserver/shared/schemas/log-event';

/** One event as the stream sends it: the stored event with its `cursor` as the last field. */
export interface EventFrame {
  /** The JSON text of the event and its cursor. */
  json: string;
  cursor: string;
  id: string;
  /** What it costs in a backlog (UTF-8 bytes of the JSON). */
  bytes: number;
}

export function eventFrame(event: LogEvent, cursor: string): EventFrame {
  const body = JSON.stringify(event);
  // Events are objects, so the text ends in '}': the cursor is added without parsing it again.
  const json = `${body.slice(0, -1)},"cursor":${JSON.stringify(cursor)}}`;
  return { json, cursor, id: event.id, bytes: Buffer.byteLength(json) };
}

/** A notice frame; it always has `type`, which events never have. */
export function notice(body: { type: string } & Record<string, unknown>): string {
  return JSON.stringify(body);
}
