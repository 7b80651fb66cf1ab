import { z } from 'zod';
import { LIMITS } from './limits.js';
import {
  isFourDigitYear,
  isWellFormedText,
  type JsonObject,
  jsonObjectProblem,
  LogEvent,
  LogEventInput,
  SERVER_ACTION_PREFIX,
  SEVERITIES,
  type Severity,
} from './log-event.js';
import { ListMeta } from './log-query.js';

/**
 * The zod schema of an event is the definition: every 422 and its messages come from it. Parsing
 * it cost ~10 % of the server's CPU per POST in the benchmark's profile, most of it on bodies
 * that are fine and come out as they went in. This guard accepts only such a body: each field
 * checked with zod's own patterns and the same LIMITS, with nothing for a transform to change
 * (no surrounding spaces, a timestamp already in UTC ISO form, a lower-case event_id). It answers
 * exactly what `LogEventInput.parse` would, or `undefined`, and then zod parses the body and says
 * what is wrong. `log-event-fast-path.test.ts` holds the two side by side over many bodies.
 */
const FIELDS = new Set(Object.keys(LogEventInput.shape));
const UUID = z.regexes.uuid();
const IPV4 = z.regexes.ipv4;
const DATETIME = z.regexes.datetime({ offset: true });
const SEVERITY_SET: ReadonlySet<string> = new Set(SEVERITIES);

const isPlainObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

const text = (value: unknown, max: number): value is string =>
  typeof value === 'string' && value.length >= 1 && value.length <= max && isWellFormedText(value);

/** action and resource_type: zod trims them first, so only text without surrounding spaces passes as it is. */
const trimmedText = (value: unknown, max: number): value is string => text(value, max) && value.trim() === value;

const optional = (value: unknown, check: (value: unknown) => boolean): boolean => value === undefined || check(value);

const canonicalTimestamp = (value: unknown): boolean => {
  if (typeof value !== 'string' || !DATETIME.test(value)) return false;
  const instant = new Date(value);
  return !Number.isNaN(instant.getTime()) && instant.toISOString() === value && isFourDigitYear(value);
};

const jsonObject = (value: unknown): boolean => isPlainObject(value) && jsonObjectProblem(value) === null;

/** `LogEventInput.parse(body)` for a body that needs no transform and has nothing wrong; otherwise undefined. */
export function plainLogEventInput(body: unknown): LogEventInput | undefined {
  if (!isPlainObject(body)) return undefined;
  for (const key in body) if (!FIELDS.has(key) || body[key] === undefined) return undefined;
  const { event_id, action, resource_type, resource_id, timestamp, ip_address, user_agent, before, after, metadata, severity } = body;
  const fine =
    optional(event_id, (value) => typeof value === 'string' && UUID.test(value) && value.toLowerCase() === value) &&
    trimmedText(action, LIMITS.shortText) &&
    !action.toLowerCase().startsWith(SERVER_ACTION_PREFIX) &&
    trimmedText(resource_type, LIMITS.shortText) &&
    optional(resource_id, (value) => text(value, LIMITS.resourceId)) &&
    optional(timestamp, canonicalTimestamp) &&
    // IPv6 takes zod's path: its check is more than a pattern.
    optional(ip_address, (value) => typeof value === 'string' && IPV4.test(value)) &&
    optional(user_agent, (value) => typeof value === 'string' && (value === '' || text(value, LIMITS.userAgent))) &&
    optional(before, jsonObject) &&
    optional(after, jsonObject) &&
    optional(metadata, jsonObject) &&
    optional(severity, (value) => typeof value === 'string' && SEVERITY_SET.has(value));
  if (!fine) return undefined;
  // The keys in the schema's order, as zod's output has them (the idempotency fingerprint is over this).
  const input: Record<string, unknown> = {};
  if (event_id !== undefined) input.event_id = event_id;
  input.action = action;
  input.resource_type = resource_type;
  if (resource_id !== undefined) input.resource_id = resource_id;
  if (timestamp !== undefined) input.timestamp = timestamp;
  if (ip_address !== undefined) input.ip_address = ip_address;
  if (user_agent !== undefined) input.user_agent = user_agent;
  if (before !== undefined) input.before = { ...(before as JsonObject) };
  if (after !== undefined) input.after = { ...(after as JsonObject) };
  if (metadata !== undefined) input.metadata = { ...(metadata as JsonObject) };
  input.severity = (severity as Severity | undefined) ?? 'INFO';
  return input as LogEventInput;
}

/** `LogEventBulkInput.parse(body)` when every item passes `plainLogEventInput` and no event_id repeats; otherwise undefined. */
export function plainLogEventBulkInput(body: unknown): LogEventInput[] | undefined {
  if (!Array.isArray(body) || body.length < 1 || body.length > LIMITS.bulkEvents) return undefined;
  const inputs: LogEventInput[] = [];
  const ids = new Set<string>();
  for (const item of body) {
    const input = plainLogEventInput(item);
    if (input === undefined) return undefined;
    if (input.event_id !== undefined) {
      if (ids.has(input.event_id)) return undefined;
      ids.add(input.event_id);
    }
    inputs.push(input);
  }
  return inputs;
}

/**
 * The answer side: `okEnvelope(LogEvent)` strips keys it does not know and writes the rest in its
 * own order, so an event whose keys are exactly the schema's, in that order, with values of the
 * schema's types (what `inputToEvent` builds) is its own encoding and `JSON.stringify` writes
 * the same text zod's serializer would. Anything else goes to zod.
 */
const EVENT_KEYS = Object.keys(LogEvent.shape);
const EVENT_KEYS_WITHOUT_HASH = EVENT_KEYS.filter((key) => key !== 'hash');
const NULLABLE_TEXT = new Set(['resource_id', 'ip_address', 'user_agent']);
const NULLABLE_OBJECT = new Set(['before', 'after', 'metadata']);

function isPlainEvent(value: unknown): value is LogEvent {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  const expected = keys.length === EVENT_KEYS.length ? EVENT_KEYS : EVENT_KEYS_WITHOUT_HASH;
  if (keys.length !== expected.length) return false;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    if (key !== expected[index]) return false;
    const field = value[key];
    if (NULLABLE_TEXT.has(key)) {
      if (field !== null && typeof field !== 'string') return false;
    } else if (NULLABLE_OBJECT.has(key)) {
      // zod's record drops an own `__proto__` key as it copies (JSON.parse makes one); leave such an object to zod.
      if (field !== null && (!isPlainObject(field) || Object.hasOwn(field, '__proto__'))) return false;
    } else if (key === 'severity') {
      if (typeof field !== 'string' || !SEVERITY_SET.has(field)) return false;
    } else if (typeof field !== 'string') return false;
  }
  return true;
}

const isOkHead = (value: JsonObject): boolean => Number.isSafeInteger(value.code) && typeof value.msg === 'string';

/** Whether the object's own keys are exactly `expected`, in that order. */
function hasKeys(value: JsonObject, expected: readonly string[]): boolean {
  const keys = Object.keys(value);
  return keys.length === expected.length && keys.every((key, index) => key === expected[index]);
}

const ONE = ['code', 'msg', 'data'];
const MANY = ['code', 'msg', 'data', 'meta'];

/** The JSON of `ok(event)` when `isPlainEvent(event)`; undefined otherwise. */
export function plainEventEnvelope(data: unknown): string | undefined {
  if (!isPlainObject(data) || !hasKeys(data, ONE) || !isOkHead(data) || !isPlainEvent(data.data)) return undefined;
  return JSON.stringify(data);
}

const isPlainEvents = (data: JsonObject): boolean =>
  hasKeys(data, MANY) && isOkHead(data) && Array.isArray(data.data) && data.data.every(isPlainEvent);

/** The JSON of `ok(events, { count })` when every event passes `isPlainEvent`; undefined otherwise. */
export function plainEventsEnvelope(data: unknown): string | undefined {
  if (!isPlainObject(data) || !isPlainEvents(data)) return undefined;
  const meta = data.meta;
  if (!isPlainObject(meta) || !hasKeys(meta, ['count']) || !Number.isSafeInteger(meta.count)) return undefined;
  return JSON.stringify(data);
}

/** ListMeta's keys in its order; `size` and `next_cursor` always there, the rest only for page/size paging. */
const LIST_META_KEYS = Object.keys(ListMeta.shape);

/** A list page's meta whose keys come in ListMeta's order, each of its type: what zod's encode writes unchanged. */
function isPlainListMeta(meta: unknown): boolean {
  if (!isPlainObject(meta) || !('size' in meta) || !('next_cursor' in meta)) return false;
  let at = 0;
  for (const key of Object.keys(meta)) {
    while (at < LIST_META_KEYS.length && LIST_META_KEYS[at] !== key) at++;
    if (at === LIST_META_KEYS.length) return false;
    const value = meta[key];
    if (key === 'next_cursor' ? value !== null && typeof value !== 'string' : !Number.isSafeInteger(value)) return false;
  }
  return true;
}

/**
 * The JSON of GET /api/v1/logs's answer, `ok(events, meta)`, when every event passes `isPlainEvent`
 * and meta is ListMeta's keys in its order; undefined otherwise. zod's encode of a 50-event page
 * copies every event and every before/after/metadata object.
 */
export function plainListEnvelope(data: unknown): string | undefined {
  if (!isPlainObject(data) || !isPlainEvents(data) || !isPlainListMeta(data.meta)) return undefined;
  return JSON.stringify(data);
}
