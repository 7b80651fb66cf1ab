import { z } from 'zod';
import { withHash } from '../integrity/event-hash.js';
import { LIMITS } from './limits.js';

export const SEVERITIES = ['INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

export type JsonObject = { [key: string]: unknown };

/**
 * Every stored event is hashed over its RFC 8785 canonical JSON, which has no form for an
 * infinite number (JSON.parse turns 1e400 into one) or a lone UTF-16 surrogate; such input is a 422.
 */
function hashable(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value === 'string') return isWellFormedText(value);
  return true;
}

/** What is wrong with a before/after/metadata object, the first problem found; null when nothing is. */
export interface JsonObjectProblem {
  path?: (string | number)[];
  message: string;
}

/**
 * Why keys are checked: `$`-prefixed and dotted keys are operators and paths to MongoDB,
 * and an audit event must be stored exactly as sent, in every store.
 */
export function jsonObjectProblem(value: JsonObject): JsonObjectProblem | null {
  const visit = (node: unknown, depth: number, path: (string | number)[]): JsonObjectProblem | null => {
    if (!hashable(node)) return { path, message: 'must be finite numbers and well-formed Unicode text (RFC 8785 JSON)' };
    if (node === null || typeof node !== 'object') return null;
    if (depth > LIMITS.objectDepth) return { path, message: `nesting deeper than ${LIMITS.objectDepth} levels` };
    if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) {
        const problem = visit(item, depth + 1, [...path, index]);
        if (problem) return problem;
      }
      return null;
    }
    for (const [key, child] of Object.entries(node)) {
      if (key.startsWith('$') || key.includes('.'))
        return { path: [...path, key], message: "object keys may not start with '$' or contain '.'" };
      if (!hashable(key)) return { path, message: 'object keys must be well-formed Unicode text' };
      if (key.length > LIMITS.objectKeyLength) return { path, message: `object keys are at most ${LIMITS.objectKeyLength} characters` };
      const problem = visit(child, depth + 1, [...path, key]);
      if (problem) return problem;
    }
    return null;
  };
  const problem = visit(value, 1, []);
  if (problem) return problem;
  if (Buffer.byteLength(JSON.stringify(value)) > LIMITS.objectBytes) return { message: `larger than ${LIMITS.objectBytes} bytes as JSON` };
  return null;
}

function checkJsonObject(value: JsonObject, ctx: z.RefinementCtx): void {
  const problem = jsonObjectProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', ...problem });
}

const jsonObject = z.record(z.string(), z.unknown()).superRefine(checkJsonObject);

/**
 * Timestamps are stored and compared as ISO text, which sorts as time only for four-digit years:
 * "9999-12-31T23:59:59-23:59" is +010000-01-01T23:58:59.000Z in UTC, which sorted before every
 * other event, fell inside to=2000-01-01 and outside every cleanup. Such an instant is refused.
 */
export const UTC_YEAR_RANGE = 'its UTC year must be between 0000 and 9999';
export const isFourDigitYear = (utcIso: string): boolean => /^\d{4}-/.test(utcIso);

const isoTimestamp = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone, e.g. 2025-06-26T01:23:45.678Z' })
  .transform((value) => new Date(value).toISOString())
  .refine(isFourDigitYear, UTC_YEAR_RANGE);

/**
 * Text stored in a column must be well-formed Unicode: a lone surrogate half cannot be written as
 * UTF-8, so the store would keep replacement characters instead of what was acknowledged.
 * (Inside before/after/metadata they are refused as well: the event hash is over RFC 8785 JSON,
 * which has no form for them.)
 */
export const isWellFormedText = (value: string): boolean => !/\p{Cs}/u.test(value);
const WELL_FORMED = 'must be well-formed Unicode text (no lone surrogate halves)';
const columnText = (max: number) => z.string().max(max).refine(isWellFormedText, WELL_FORMED);

/**
 * Actions the server writes itself (logs.export, logs.cleanup): a writer could otherwise post a
 * record indistinguishable from a real cleanup. Any case, so `LOGS.cleanup` cannot pass for one.
 */
export const SERVER_ACTION_PREFIX = 'logs.';
const isClientAction = (action: string) => !action.toLowerCase().startsWith(SERVER_ACTION_PREFIX);

/** What a client sends: the Python system's fields, nothing else (DESIGN §4). */
export const LogEventInput = z.strictObject({
  /**
   * The client's own id for the event (a UUID, ideally v7): it becomes the stored `id`, so the same
   * event sent twice, by a retry or a redelivery, is stored once (CloudEvents' source + id, with
   * the tenant as the source). Case is not significant.
   */
  event_id: z
    .uuid({ message: 'must be a UUID (RFC 9562), e.g. one from crypto.randomUUID() or a UUIDv7' })
    .transform((value) => value.toLowerCase())
    .optional(),
  action: z
    .string()
    .trim()
    .min(1)
    .max(LIMITS.shortText)
    .refine(isWellFormedText, WELL_FORMED)
    .refine(isClientAction, `actions starting with '${SERVER_ACTION_PREFIX}' are reserved for the server's own records`),
  resource_type: z.string().trim().min(1).max(LIMITS.shortText).refine(isWellFormedText, WELL_FORMED),
  resource_id: columnText(LIMITS.resourceId).min(1).optional(),
  timestamp: isoTimestamp.optional(),
  ip_address: z.union([z.ipv4(), z.ipv6()], { message: 'must be an IPv4 or IPv6 address' }).optional(),
  user_agent: columnText(LIMITS.userAgent).optional(),
  before: jsonObject.optional(),
  after: jsonObject.optional(),
  metadata: jsonObject.optional(),
  severity: Severity.default('INFO'),
});
export type LogEventInput = z.infer<typeof LogEventInput>;

export const LogEventBulkInput = z
  .array(LogEventInput)
  .min(1)
  .max(LIMITS.bulkEvents)
  .superRefine((events, ctx) => {
    // Two events of one request with one event_id would store one and drop the other unseen.
    const seen = new Map<string, number>();
    events.forEach((event, index) => {
      if (event.event_id === undefined) return;
      const first = seen.get(event.event_id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [index, 'event_id'], message: `the same event_id as item ${first}` });
      else seen.set(event.event_id, index);
    });
  });

/** A stored event: the client's fields plus what the server adds. Timestamps are UTC ISO strings. */
export const LogEvent = z.object({
  id: z.string(),
  tenant_id: z.string(),
  user_id: z.string(),
  action: z.string(),
  resource_type: z.string(),
  resource_id: z.string().nullable(),
  timestamp: z.string(),
  received_at: z.string(),
  ip_address: z.string().nullable(),
  user_agent: z.string().nullable(),
  before: z.record(z.string(), z.unknown()).nullable(),
  after: z.record(z.string(), z.unknown()).nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  severity: Severity,
  /** SHA-256 of the event's RFC 8785 canonical JSON without this field (docs/tamper-evidence.md). */
  hash: z.string().optional(),
});
export type LogEvent = z.infer<typeof LogEvent>;

/** Who is acting, as the token says; the only source of tenant_id and user_id on an event. */
export interface Actor {
  tenant: string;
  sub: string;
}

/** Turns a validated input into the stored event: the server's id, the token's tenant and subject. */
export function inputToEvent(input: LogEventInput, actor: Actor, id: string, now: Date): LogEvent {
  const receivedAt = now.toISOString();
  return withHash({
    id: input.event_id ?? id,
    tenant_id: actor.tenant,
    user_id: actor.sub,
    action: input.action,
    resource_type: input.resource_type,
    resource_id: input.resource_id ?? null,
    timestamp: input.timestamp ?? receivedAt,
    received_at: receivedAt,
    ip_address: input.ip_address ?? null,
    user_agent: input.user_agent ?? null,
    before: input.before ?? null,
    after: input.after ?? null,
    metadata: input.metadata ?? null,
    severity: input.severity,
  });
}
