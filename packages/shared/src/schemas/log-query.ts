import { z } from 'zod';
import { LIMITS } from './limits.js';
import { SEVERITIES, type Severity } from './log-event.js';

/** One value per parameter: a repeated parameter is ambiguous, so it is refused, not guessed. */
const single = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value, ctx) => {
    if (Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: 'may be given only once' });
      return z.NEVER;
    }
    return value;
  }, schema);

const text = single(z.string().min(1).max(LIMITS.filterValue));

const dateOrDateTime = single(
  z
    .string()
    .refine((value) => /^\d{4}-\d{2}-\d{2}$/.test(value) || z.iso.datetime({ offset: true }).safeParse(value).success, {
      message: 'must be an ISO 8601 date (2025-06-26) or date-time with a time zone (2025-06-26T01:23:45Z)',
    })
    .transform((value) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value).toISOString()),
);

const severityList = single(
  z
    .string()
    .transform((value) => value.split(',').map((part) => part.trim().toUpperCase()))
    .refine((parts) => parts.every((part) => (SEVERITIES as readonly string[]).includes(part)), {
      message: `must be a comma-separated list of ${SEVERITIES.join(', ')}`,
    })
    .transform((parts) => [...new Set(parts)] as Severity[]),
);

export const filterShape = {
  action: text.optional(),
  resource_type: text.optional(),
  resource_id: text.optional(),
  user_id: text.optional(),
  ip_address: text.optional(),
  severity: severityList.optional(),
  user_agent: text.optional(),
  from: dateOrDateTime.optional(),
  to: dateOrDateTime.optional(),
  timestamp: single(
    z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a UTC day, YYYY-MM-DD')
      .refine((value) => !Number.isNaN(Date.parse(`${value}T00:00:00Z`)), 'must be a real calendar day'),
  ).optional(),
  search: single(z.string().min(1).max(LIMITS.search)).optional(),
};

/**
 * A strict object whose unknown-key error names the parameters that are allowed, so a typo in a
 * filter is a 422 that says what to write instead of a silently unfiltered answer.
 */
export function strictQuery<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).sort().join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown parameter; allowed: ${allowed}` : undefined),
  });
}

const positiveInt = (max?: number) => {
  const base = z.coerce.number().int().min(1);
  return single(max === undefined ? base : base.max(max));
};

export const ListLogsQuery = strictQuery({
  ...filterShape,
  sort: single(z.enum(['asc', 'desc'])).default('desc'),
  page: positiveInt(1_000_000).optional(),
  size: positiveInt(LIMITS.pageSize).default(10),
  cursor: single(z.string().min(1).max(512)).optional(),
});
export type ListLogsQuery = z.infer<typeof ListLogsQuery>;

export const StatsQuery = strictQuery({
  ...filterShape,
  group_by: single(z.enum(['severity', 'action', 'resource_type', 'user_id'])).default('severity'),
  interval: single(z.enum(['hour', 'day'])).optional(),
});
export type StatsQuery = z.infer<typeof StatsQuery>;

export const LogIdParams = z.strictObject({ id: z.string().min(1).max(64) });
