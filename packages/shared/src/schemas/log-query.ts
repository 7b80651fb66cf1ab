import { z } from 'zod';
import { ANALYTICS_INTERVALS, GROUPABLE_FIELDS, type GroupableField } from '../analytics/port.js';
import { LIMITS } from './limits.js';
import { isFourDigitYear, SEVERITIES, type Severity, UTC_YEAR_RANGE } from './log-event.js';

/** One value per parameter: a repeated parameter is ambiguous, so it is refused, not guessed. */
export const single = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value, ctx) => {
    if (Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: 'may be given only once' });
      return z.NEVER;
    }
    return value;
  }, schema);

const text = single(z.string().min(1).max(LIMITS.filterValue));

/** Date.parse rolls 2025-02-30 over to March; a real day survives the round trip unchanged. */
const isCalendarDay = (value: string) => {
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === value;
};

const dateOrDateTime = single(
  z
    .string()
    .refine(
      (value) => (/^\d{4}-\d{2}-\d{2}$/.test(value) && isCalendarDay(value)) || z.iso.datetime({ offset: true }).safeParse(value).success,
      {
        message: 'must be an ISO 8601 date (2025-06-26) or date-time with a time zone (2025-06-26T01:23:45Z)',
      },
    )
    .transform((value) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value).toISOString())
    .refine(isFourDigitYear, UTC_YEAR_RANGE),
);

const severityList = single(
  z
    .string()
    .transform((value) => value.split(',').map((part) => part.trim().toUpperCase()))
    .refine((parts) => parts.every((part) => (SEVERITIES as readonly string[]).includes(part)), {
      message: `must be a comma-separated list of ${SEVERITIES.join(', ')}`,
    })
    .transform((parts) => [...new Set(parts)] as readonly Severity[]),
);

/** The filters list, export, stats and the stream share (docs/api.md "Filters"): one definition for the API and the stores. */
export const filterShape = {
  action: text.optional(),
  resource_type: text.optional(),
  resource_id: text.optional(),
  user_id: text.optional(),
  ip_address: text.optional(),
  severity: severityList.optional(),
  /** Case-insensitive substring of the user agent. */
  user_agent: text.optional(),
  /** Inclusive lower bound on timestamp, ISO string. */
  from: dateOrDateTime.optional(),
  /** Exclusive upper bound on timestamp, ISO string. */
  to: dateOrDateTime.optional(),
  /** A UTC day (YYYY-MM-DD); toLogFilter folds it into from/to. */
  timestamp: single(
    z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a UTC day, YYYY-MM-DD')
      .refine(isCalendarDay, 'must be a real calendar day'),
  ).optional(),
  /** Literal case-insensitive substring over text fields and before/after/metadata. */
  search: single(z.string().min(1).max(LIMITS.search)).optional(),
};

const FilterQuery = z.object(filterShape);
/** The filter parameters of a request, as validated. */
export type FilterQuery = z.infer<typeof FilterQuery>;
/** Every filter parameter's name, in the order the schema lists them. */
export const FILTER_FIELDS = Object.keys(filterShape) as (keyof FilterQuery)[];

/** What a store filters on (DESIGN §3): the request's filters, with `timestamp` folded into from/to. Every field narrows. */
export type LogFilter = Omit<FilterQuery, 'timestamp'>;
/** The fields of a LogFilter. */
export const LOG_FILTER_FIELDS = FILTER_FIELDS.filter((field): field is keyof LogFilter => field !== 'timestamp');

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

/** A window that ends before it starts is a mistake in the request, not an empty answer. */
const fromNotAfterTo = (query: { from?: string | undefined; to?: string | undefined }, ctx: z.RefinementCtx) => {
  if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
    ctx.addIssue({ code: 'custom', path: ['from'], message: 'from must not be later than to' });
  }
};

const positiveInt = (max?: number) => {
  const base = z.coerce.number().int().min(1);
  return single(max === undefined ? base : base.max(max));
};

const sort = single(z.enum(['asc', 'desc'])).default('desc');

export const ListLogsQuery = strictQuery({
  ...filterShape,
  sort,
  page: positiveInt(LIMITS.offsetWindow).optional(),
  size: positiveInt(LIMITS.pageSize).default(10),
  cursor: single(z.string().min(1).max(LIMITS.cursor)).optional(),
}).superRefine((query, ctx) => {
  fromNotAfterTo(query, ctx);
  if (query.page !== undefined && query.cursor !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['cursor'],
      message: 'give page or cursor, not both: the cursor already says where the page starts',
    });
  }
  if (query.page !== undefined && query.page * query.size > LIMITS.offsetWindow) {
    ctx.addIssue({
      code: 'custom',
      path: ['page'],
      message: `page × size may be at most ${LIMITS.offsetWindow}; page deeper with cursor (meta.next_cursor)`,
    });
  }
});
export type ListLogsQuery = z.infer<typeof ListLogsQuery>;

/** A list page's meta: page/size paging has total, page and pages; cursor paging only size and next_cursor. */
export const ListMeta = z.object({
  total: z.number().int().optional().describe('Matching events in all (page/size paging only)'),
  page: z.number().int().optional(),
  size: z.number().int(),
  pages: z.number().int().optional(),
  next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page'),
});

/** What the primary stores count (from rollups or an index); the analytics tier answers every form. */
export const STATS_GROUPS = ['severity', 'action', 'resource_type', 'user_id'] as const;
export const PRIMARY_INTERVALS = ['hour', 'day'] as const;

const groupByList = single(
  z
    .string()
    .transform((value) => value.split(',').map((part) => part.trim()))
    .refine((parts) => parts.length >= 1 && parts.length <= 2, { message: 'one field, or two separated by a comma' })
    .refine((parts) => parts.every((part) => (GROUPABLE_FIELDS as readonly string[]).includes(part)), {
      message: `must be one or two of ${GROUPABLE_FIELDS.join(', ')}`,
    })
    .refine((parts) => parts[0] !== parts[1], { message: 'the two fields must differ' })
    .transform((parts) => parts as unknown as [GroupableField] | [GroupableField, GroupableField]),
);

export const StatsQuery = strictQuery({
  ...filterShape,
  group_by: groupByList.default(['severity']),
  interval: single(z.enum(ANALYTICS_INTERVALS)).optional(),
  top: positiveInt(LIMITS.statsGroups).optional(),
}).superRefine(fromNotAfterTo);
export type StatsQuery = z.infer<typeof StatsQuery>;

export const EXPORT_FORMATS = ['ndjson', 'csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** A true/false query flag; absent is false. */
const flag = single(z.enum(['true', 'false']))
  .optional()
  .transform((value) => value === 'true');

/** CSV only: what a spreadsheet needs (README "Export"). */
const CSV_FLAGS = ['raw', 'bom', 'flatten'] as const;

export const ExportQuery = strictQuery({
  ...filterShape,
  format: single(z.enum(EXPORT_FORMATS)).default('ndjson'),
  // `commit`: in the order stored, each event with its stream cursor, so a broken download continues with after=.
  sort: single(z.enum(['asc', 'desc', 'commit'])).default('desc'),
  after: single(z.string().min(1).max(LIMITS.cursor)).optional(),
  /** CSV: keep every cell's exact bytes instead of defusing spreadsheet formulas. */
  raw: flag,
  /** CSV: start with a UTF-8 byte order mark, so spreadsheets read accents right. */
  bom: flag,
  /** CSV: before/after/metadata as one dotted column per key (before.email) instead of JSON text. */
  flatten: flag,
  manifest: single(z.enum(['true', 'false']))
    .default('false')
    .describe('true: the last NDJSON line is {"manifest": …}, what scripts/verify-offline.mjs checks the export against'),
  trusted_size: single(z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER))
    .optional()
    .describe('with manifest=true: also a consistency proof from the checkpoint of this size you kept'),
})
  .superRefine(fromNotAfterTo)
  .superRefine((query, ctx) => {
    if (query.after !== undefined && query.sort !== 'commit' && query.sort !== 'desc') {
      ctx.addIssue({
        code: 'custom',
        path: ['sort'],
        message: 'after= continues an export in commit order: leave sort out, or sort=commit',
      });
    }
  })
  .superRefine((query, ctx) => {
    if (query.manifest === 'true' && query.format !== 'ndjson')
      ctx.addIssue({ code: 'custom', path: ['manifest'], message: 'manifest=true needs format=ndjson (the manifest is the last line)' });
    if (query.trusted_size !== undefined && query.manifest !== 'true')
      ctx.addIssue({ code: 'custom', path: ['trusted_size'], message: 'trusted_size goes with manifest=true' });
    if (query.format === 'csv') return;
    for (const name of CSV_FLAGS) {
      if (query[name]) ctx.addIssue({ code: 'custom', path: [name], message: `applies to format=csv only` });
    }
  });
export type ExportQuery = z.infer<typeof ExportQuery>;

/** Cleanup needs exactly one cut-off, or all=true: a bare DELETE must never purge a tenant by accident. */
export const CleanupQuery = strictQuery({
  // The same forms as the list's from/to: a UTC day (2025-06-27 is its midnight) or a date-time.
  before: dateOrDateTime.optional(),
  older_than_days: positiveInt(LIMITS.cleanupDays).optional(),
  all: single(z.enum(['true', 'false'])).optional(),
  /** Deletes nothing: answers how many events the same request would delete. */
  dry_run: flag,
}).superRefine((query, ctx) => {
  const given = [query.before !== undefined, query.older_than_days !== undefined, query.all === 'true'].filter(Boolean).length;
  if (given === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['before'],
      message:
        'a cut-off is needed: before=<ISO date or date-time> or older_than_days=<N>; all=true deletes every event of the tenant (dry_run=true counts first)',
    });
  } else if (given > 1) {
    ctx.addIssue({ code: 'custom', path: ['before'], message: 'give only one of before, older_than_days and all=true' });
  }
});
export type CleanupQuery = z.infer<typeof CleanupQuery>;

export const LogIdParams = z.strictObject({ id: z.string().min(1).max(64) });
