import escapeStringRegexp from 'escape-string-regexp';
import type { Document, Filter, IndexDescription, Sort } from 'mongodb';
import { QueryTimeout, Unavailable } from '../errors/catalogue.js';
import { withHash } from '../integrity/event-hash.js';
import type { LogEvent, Severity } from '../schemas/log-event.js';
import { applyFilterHandlers, type FilterHandlers } from '../store/filter.js';
import type {
  AppendResult,
  DeleteCause,
  DeleteScope,
  LogFilter,
  LogPage,
  LogStore,
  PageRequest,
  Position,
  SortOrder,
  StatsGroup,
  StatsRequest,
  StatsResult,
} from '../store/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { type MongoCollection, type MongoDatabase, pingWithin } from './database.js';
import { startMongoCleanup } from './integrity-collections.js';
import { documentToEvent, eventToDocument, LOGS_COLLECTION, type LogDocument } from './logs-collection.js';

/**
 * Every index is led by tenant_id, so each query reads one tenant's slice. The README's index table
 * says which query uses which; a filter on user_agent or search has no index and is bounded by maxTimeMS.
 */
export const LOG_INDEXES: IndexDescription[] = [
  { name: 'tenant_id_unique', key: { tenant_id: 1, id: 1 }, unique: true },
  { name: 'tenant_timestamp', key: { tenant_id: 1, timestamp: 1, id: 1 } },
  { name: 'tenant_severity_timestamp', key: { tenant_id: 1, severity: 1, timestamp: 1, id: 1 } },
  { name: 'tenant_action_timestamp', key: { tenant_id: 1, action: 1, timestamp: 1, id: 1 } },
  { name: 'tenant_resource_timestamp', key: { tenant_id: 1, resource_type: 1, resource_id: 1, timestamp: 1, id: 1 } },
  { name: 'tenant_user_timestamp', key: { tenant_id: 1, user_id: 1, timestamp: 1, id: 1 } },
  { name: 'tenant_ip_timestamp', key: { tenant_id: 1, ip_address: 1, timestamp: 1, id: 1 } },
];

const DUPLICATE_KEY = 11000;
const MAX_TIME_EXPIRED = 50;
/**
 * Documents per export batch. The driver holds a whole batch while a slow client reads it, so this
 * bounds a stalled export's memory: 100 events of the largest size (three 16 KiB objects) are 5 MiB.
 */
const EXPORT_BATCH = 100;
const DELETE_BATCH = 1000;
/** Returned documents never carry the storage-only fields. */
const PROJECTION = { _id: 0, search_text: 0 };

/** A request's text as a regular expression that matches exactly that text, nothing more. */
const literal = (text: string): string => escapeStringRegexp(text);

/** Types do not survive a cast: a value that is not a string never reaches a filter document. */
function text(value: string): string {
  if (typeof value !== 'string') throw new TypeError('filter values must be strings');
  return value;
}

const eq =
  (field: 'action' | 'resource_type' | 'resource_id' | 'user_id' | 'ip_address') =>
  (value: string, where: Filter<LogDocument>): void => {
    where[field] = { $eq: text(value) };
  };

const QUERY_CONDITIONS: FilterHandlers<Filter<LogDocument>> = {
  action: eq('action'),
  resource_type: eq('resource_type'),
  resource_id: eq('resource_id'),
  user_id: eq('user_id'),
  ip_address: eq('ip_address'),
  severity: (value, where) => {
    where.severity = { $in: value.map(text) as Severity[] };
  },
  user_agent: (value, where) => {
    where.user_agent = { $regex: literal(text(value)), $options: 'i' };
  },
  from: (value, where) => {
    where.timestamp = { ...(where.timestamp as object | undefined), $gte: new Date(text(value)) };
  },
  to: (value, where) => {
    where.timestamp = { ...(where.timestamp as object | undefined), $lt: new Date(text(value)) };
  },
  // Lower-cased on both sides in JavaScript, as matchesFilter does, so every store agrees on case.
  search: (value, where) => {
    where.search_text = { $regex: literal(text(value).toLowerCase()) };
  },
};

/**
 * LogFilter to a filter document. Every value from the request is placed under an operator this
 * function chose ($eq, $in, $gte, $lt, $regex of escaped text), so no request text can become an
 * operator or a field path, whatever it contains.
 */
export function buildLogFilter(tenant: TenantId, filter: LogFilter): Filter<LogDocument> {
  const where: Filter<LogDocument> = { tenant_id: { $eq: text(tenant) } };
  applyFilterHandlers(filter, QUERY_CONDITIONS, where);
  return where;
}

/** Strictly after a position in (timestamp, id) order, in the direction of the sort. */
export function buildAfterFilter(sort: SortOrder, position: Position): Filter<LogDocument> {
  const at = new Date(text(position.timestamp));
  const beyond = sort === 'desc' ? '$lt' : '$gt';
  return { $or: [{ timestamp: { [beyond]: at } }, { timestamp: { $eq: at }, id: { [beyond]: text(position.id) } }] };
}

const GROUP_FIELDS: Record<StatsGroup, string> = {
  severity: '$severity',
  action: '$action',
  resource_type: '$resource_type',
  user_id: '$user_id',
};

/** The index whose keys hold tenant_id, the group field and timestamp: stats can read it alone. */
const GROUP_INDEXES: Record<StatsGroup, string> = {
  severity: 'tenant_severity_timestamp',
  action: 'tenant_action_timestamp',
  resource_type: 'tenant_resource_timestamp',
  user_id: 'tenant_user_timestamp',
};

/**
 * When the filter narrows by nothing but time (and the grouped field itself), counting needs only
 * the group's index: hinting it makes the aggregation a covered index scan, with no document read.
 * With any other filter the planner chooses, since that filter's own index may narrow more.
 */
export function statsHint(filter: LogFilter, groupBy: StatsGroup): string | undefined {
  const narrowing = (Object.keys(filter) as (keyof LogFilter)[]).filter(
    (key) => filter[key] !== undefined && key !== 'from' && key !== 'to' && key !== groupBy,
  );
  return narrowing.length === 0 ? GROUP_INDEXES[groupBy] : undefined;
}

const BUCKET_FORMATS = { hour: '%Y-%m-%dT%H:00:00.000Z', day: '%Y-%m-%dT00:00:00.000Z' } as const;

/** The stats pipeline: a $match on the built filter, then one $group by the group (and bucket). */
export function buildStatsPipeline(tenant: TenantId, filter: LogFilter, request: StatsRequest): Document[] {
  const key =
    request.interval === undefined
      ? { group: GROUP_FIELDS[request.groupBy] }
      : {
          group: GROUP_FIELDS[request.groupBy],
          // Without a timezone $dateToString formats in UTC, as every bucket start is given.
          start: { $dateToString: { date: '$timestamp', format: BUCKET_FORMATS[request.interval] } },
        };
  return [{ $match: buildLogFilter(tenant, filter) }, { $group: { _id: key, n: { $sum: 1 } } }];
}

const hintOf = (index: string | undefined): { hint?: string } => (index === undefined ? {} : { hint: index });

const sortOf = (sort: SortOrder): Sort => (sort === 'desc' ? { timestamp: -1, id: -1 } : { timestamp: 1, id: 1 });

interface BulkWriteFailure {
  writeErrors?: { index: number; code: number }[] | { index: number; code: number };
  writeConcernError?: unknown;
}

/**
 * The positions a bulk insert refused only because (tenant_id, id) was already stored, or null
 * when anything else went wrong: then the whole batch fails and the queue delivers it again.
 */
function duplicatePositions(error: unknown): Set<number> | null {
  if (typeof error !== 'object' || error === null) return null;
  const failure = error as BulkWriteFailure;
  if (failure.writeErrors === undefined || failure.writeConcernError) return null;
  const writeErrors = Array.isArray(failure.writeErrors) ? failure.writeErrors : [failure.writeErrors];
  if (writeErrors.length === 0 || writeErrors.some((writeError) => writeError.code !== DUPLICATE_KEY)) return null;
  return new Set(writeErrors.map((writeError) => writeError.index));
}

export interface MongoLogStoreOptions {
  /** maxTimeMS for queries that no index bounds (search, user_agent). */
  queryTimeoutMs: number;
  /** How long ping waits for an answer before /readyz reports MongoDB down. */
  pingTimeoutMs: number;
  /** Releases the connection; shared with the tenant store, so it must be safe to call twice. */
  release?: () => Promise<void>;
}

const TIMEOUT_NAMES = new Set(['MongoServerSelectionError', 'MongoNetworkError', 'MongoNetworkTimeoutError', 'MongoTopologyClosedError']);

/** LogStore on a MongoDB collection: the store of the Kubernetes deployment. */
export class MongoLogStore implements LogStore {
  private readonly logs: MongoCollection<LogDocument>;

  private constructor(
    private readonly db: MongoDatabase,
    private readonly options: MongoLogStoreOptions,
  ) {
    this.logs = db.collection<LogDocument>(LOGS_COLLECTION);
  }

  /** Creates the indexes (a no-op when they exist) before the store serves anything. */
  static async open(db: MongoDatabase, options: MongoLogStoreOptions): Promise<MongoLogStore> {
    const store = new MongoLogStore(db, options);
    await store.logs.createIndexes(LOG_INDEXES);
    return store;
  }

  async append(tenant: TenantId, events: readonly LogEvent[]): Promise<AppendResult> {
    if (events.some((event) => event.tenant_id !== tenant)) throw new Error('event tenant does not match the tenant it is appended to');
    if (events.length === 0) return { inserted: [], duplicates: 0 };
    // The hash is computed once, when the event is built; only an event that arrives without one gets it here.
    const stored = events.map((event) => (event.hash === undefined ? withHash(event) : event));
    // Fresh documents each time: the driver writes an _id into what it is given.
    const documents = stored.map(eventToDocument);
    try {
      await this.logs.insertMany(documents, { ordered: false });
      return { inserted: stored, duplicates: 0 };
    } catch (error) {
      const duplicates = duplicatePositions(error);
      if (duplicates === null) throw this.translate(error);
      return { inserted: stored.filter((_, index) => !duplicates.has(index)), duplicates: duplicates.size };
    }
  }

  async get(tenant: TenantId, id: string): Promise<LogEvent | null> {
    const [document] = await this.run(() =>
      this.logs.find({ tenant_id: { $eq: text(tenant) }, id: { $eq: text(id) } }, { projection: PROJECTION, limit: 1 }).toArray(),
    );
    return document ? documentToEvent(document) : null;
  }

  async query(tenant: TenantId, filter: LogFilter, page: PageRequest): Promise<LogPage> {
    const where = buildLogFilter(tenant, filter);
    const limits = this.limitsFor(filter);
    if (page.kind === 'offset') {
      const skip = (page.page - 1) * page.size;
      const [documents, total] = await this.run(() =>
        Promise.all([
          this.logs.find(where, { projection: PROJECTION, sort: sortOf(page.sort), skip, limit: page.size, ...limits }).toArray(),
          this.logs.countDocuments(where, limits),
        ]),
      );
      const items = documents.map(documentToEvent);
      const last = items.at(-1);
      const more = skip + items.length < total;
      return { items, total, next: more && last ? { timestamp: last.timestamp, id: last.id } : null };
    }
    const paged = page.after === null ? where : { $and: [where, buildAfterFilter(page.sort, page.after)] };
    const documents = await this.run(() =>
      this.logs.find(paged, { projection: PROJECTION, sort: sortOf(page.sort), limit: page.size + 1, ...limits }).toArray(),
    );
    const items = documents.slice(0, page.size).map(documentToEvent);
    const last = items.at(-1);
    return { items, total: null, next: documents.length > page.size && last ? { timestamp: last.timestamp, id: last.id } : null };
  }

  /** One server cursor read in batches: memory holds one batch, however many events match. */
  async *export(tenant: TenantId, filter: LogFilter, sort: SortOrder): AsyncIterable<LogEvent> {
    const cursor = this.logs.find(buildLogFilter(tenant, filter), {
      projection: PROJECTION,
      sort: sortOf(sort),
      batchSize: EXPORT_BATCH,
      ...this.limitsFor(filter),
    });
    try {
      for await (const document of cursor) yield documentToEvent(document);
    } catch (error) {
      throw this.translate(error);
    }
  }

  async stats(tenant: TenantId, filter: LogFilter, request: StatsRequest): Promise<StatsResult> {
    const rows = await this.run(() =>
      this.logs
        .aggregate<{ _id: { group: string | null; start?: string }; n: number }>(buildStatsPipeline(tenant, filter, request), {
          ...this.limitsFor(filter),
          ...hintOf(statsHint(filter, request.groupBy)),
        })
        .toArray(),
    );
    // Prototype-free: a group may be named __proto__ or constructor, and must count as itself.
    const totals: Record<string, number> = Object.create(null);
    const buckets = new Map<string, Record<string, number>>();
    for (const row of rows) {
      const group = row._id.group ?? '';
      totals[group] = (totals[group] ?? 0) + row.n;
      if (row._id.start === undefined) continue;
      const counts = buckets.get(row._id.start) ?? Object.create(null);
      counts[group] = row.n;
      buckets.set(row._id.start, counts);
    }
    if (request.interval === undefined) return { totals };
    return {
      totals,
      buckets: [...buckets.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([start, counts]) => ({ start, counts })),
    };
  }

  async deleteOlderThan(tenant: TenantId, before: string | null, cause: DeleteCause = {}, scope: DeleteScope = {}): Promise<number> {
    const where: Filter<LogDocument> = {
      tenant_id: { $eq: tenant },
      ...(before === null ? {} : { timestamp: { $lt: new Date(before) } }),
      ...(scope.severities === undefined ? {} : { severity: { $in: [...scope.severities] } }),
      ...(scope.keepAction === undefined ? {} : { action: { $ne: scope.keepAction } }),
    };
    const limit = scope.limit ?? Number.POSITIVE_INFINITY;
    return this.run(async () => {
      const cleanup = await startMongoCleanup(this.db, {
        tenant,
        before,
        auditEventId: cause.auditEventId ?? null,
        by: cause.by ?? 'request',
        now: new Date(),
      });
      let deleted = 0;
      try {
        // In slices, each recorded before it is deleted, so verify can tell the cleanup from tampering.
        for (;;) {
          const size = Math.min(DELETE_BATCH, limit - deleted);
          if (size <= 0) return deleted;
          const rows = await this.logs.find(where, { projection: { _id: 0, id: 1, hash: 1, timestamp: 1 }, limit: size }).toArray();
          const ids = rows.map((row) => row.id);
          if (ids.length === 0) return deleted;
          await cleanup.remember(rows.map((row) => ({ id: row.id, hash: row.hash ?? null, timestamp: row.timestamp.toISOString() })));
          deleted += (await this.logs.deleteMany({ tenant_id: { $eq: tenant }, id: { $in: ids } })).deletedCount;
          if (ids.length < size) return deleted;
        }
      } finally {
        await cleanup.finish(deleted);
      }
    });
  }

  async ping(): Promise<void> {
    await pingWithin(this.db, this.options.pingTimeoutMs);
  }

  async close(): Promise<void> {
    await this.options.release?.();
  }

  /** Unindexed substring filters scan the tenant's slice, so the server stops them at maxTimeMS. */
  private limitsFor(filter: LogFilter): { maxTimeMS?: number } {
    return filter.search !== undefined || filter.user_agent !== undefined ? { maxTimeMS: this.options.queryTimeoutMs } : {};
  }

  private async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw this.translate(error);
    }
  }

  /** Driver errors a client can act on become catalogue errors; anything else stays a 500. */
  private translate(error: unknown): unknown {
    if (typeof error !== 'object' || error === null) return error;
    if ((error as { code?: unknown }).code === MAX_TIME_EXPIRED) return new QueryTimeout(this.options.queryTimeoutMs);
    if (TIMEOUT_NAMES.has((error as { name?: string }).name ?? '')) return new Unavailable('MongoDB is unreachable');
    return error;
  }
}
