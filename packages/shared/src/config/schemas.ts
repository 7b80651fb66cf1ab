import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { SqsLogQueueOptions } from '../sqs/log-queue.js';
import type { MongoTuning, StoreSettings } from '../stores.js';

/** Blank environment variables count as unset, as most deploy tools write them that way. */
export const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

// Accepts a boolean too: a service's parsed config is parsed again into its adapters' options (sqsOptions).
export const booleanFromEnv = (fallback: boolean) =>
  z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', ''])])
    .optional()
    .transform((value) =>
      typeof value === 'boolean' ? value : value === undefined || value === '' ? fallback : ['true', '1', 'yes'].includes(value),
    );

/**
 * A relative path is taken from where the user ran the command: npm and pnpm run scripts in the
 * package's folder and say where they were started in INIT_CWD (`DATA_DIR=mydata make start`).
 */
export function fromInvocationDir(path: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.INIT_CWD ?? process.cwd(), path);
}

/** An address, a CIDR range or one of proxy-addr's names: what TRUST_PROXY lists. */
const isProxyAddress = (entry: string): boolean => {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
};

/**
 * TRUST_PROXY: the addresses of the proxies in front (the gateway), whose X-Forwarded-For is
 * believed. Unset, nothing is: request.ip, and with it the address in export and cleanup records,
 * is the connection's peer. Set, it is the nearest address in X-Forwarded-For that is not a listed
 * proxy, so a client's own X-Forwarded-For counts only when a trusted proxy passed it on.
 */
export const trustProxySetting = optionalString.pipe(
  z
    .string()
    .refine(
      (value) => value.split(',').every((entry) => isProxyAddress(entry.trim())),
      'must be a comma list of IP addresses, CIDR ranges (10.0.0.0/8) or loopback, linklocal, uniquelocal',
    )
    .transform((value) => value.split(',').map((entry) => entry.trim()))
    .optional(),
);

/** Services in containers listen on every interface (the image sets HOST); the all-in-one on loopback. */
export const listenConfig = (defaultPort: number, defaultHost = '0.0.0.0') => ({
  PORT: z.coerce.number().int().min(0).max(65535).default(defaultPort),
  HOST: z.string().min(1).default(defaultHost),
  /**
   * Connections the kernel queues before the server accepts them (listen(2)'s backlog). Node's
   * 511 overflowed under 1000 clients behind the gateway (#15): each drop costs the client a 1 s
   * SYN retransmit. The kernel caps it at net.core.somaxconn (4096 on current Linux).
   */
  LISTEN_BACKLOG: z.coerce.number().int().min(1).max(65_535).default(4096),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** On SIGTERM, /readyz answers 503 this long before connections close (k8s: a few seconds). */
  SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).max(120_000).default(0),
  TRUST_PROXY: trustProxySetting,
});

/** What every main.ts passes to `app.listen`. */
export const listenOptions = (config: { PORT: number; HOST: string; LISTEN_BACKLOG: number }) => ({
  port: config.PORT,
  host: config.HOST,
  backlog: config.LISTEN_BACKLOG,
});

/** `from=to,from=to` (README "OIDC / JWKS"); every entry must have both sides. */
const valueMap = (what: string, check: (to: string) => boolean) =>
  optionalString.transform((value, ctx) => {
    const map: Record<string, string> = {};
    for (const entry of (value ?? '').split(',').filter((item) => item.trim() !== '')) {
      const at = entry.indexOf('=');
      const from = entry.slice(0, at).trim();
      const to = entry.slice(at + 1).trim();
      if (at <= 0 || to === '' || !check(to)) {
        ctx.addIssue({ code: 'custom', message: `entry "${entry.trim()}" must be <IdP value>=<${what}>` });
        continue;
      }
      map[from] = to;
    }
    return map;
  });

export const authConfig = {
  AUTH_SECRET: optionalString,
  AUTH_AUDIENCE: z.string().min(1).default('logserver'),
  AUTH_ISSUER: z.string().min(1).default('issuer'),
  AUTH_ADMIN_TENANT: z
    .string()
    .regex(/^[a-z0-9_-]+$/)
    .default('system'),
  AUTH_KEY_SCHEME: z.enum(['hmac-sha256', 'md5-legacy']).default('hmac-sha256'),
  AUTH_REQUIRE_EXP: booleanFromEnv(true),
  /** Tokens of tenants not created through POST /api/v1/tenants are refused (401); false for a migration. */
  AUTH_REQUIRE_REGISTERED_TENANT: booleanFromEnv(true),
  /** An external identity provider's JWKS: its RS256/ES256/EdDSA tokens are accepted beside the HS256 tenant tokens. */
  AUTH_JWKS_URL: optionalString.pipe(z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional()),
  /** The IdP tokens' iss and aud; AUTH_ISSUER and AUTH_AUDIENCE when unset. */
  AUTH_JWKS_ISSUER: optionalString,
  AUTH_JWKS_AUDIENCE: optionalString,
  AUTH_TENANT_CLAIM: z.string().min(1).default('tenant'),
  AUTH_ROLE_CLAIM: z.string().min(1).default('role'),
  AUTH_TENANT_MAP: valueMap('tenant key', (to) => /^[a-z0-9_-]+$/.test(to)),
  AUTH_ROLE_MAP: valueMap('admin|auditor|viewer|writer', (to) => ['admin', 'auditor', 'viewer', 'writer'].includes(to)),
  AUTH_JWKS_COOLDOWN: z.coerce.number().min(0).max(3_600).default(30),
  AUTH_JWKS_CACHE_MAX_AGE: z.coerce.number().min(1).max(86_400).default(600),
};

/**
 * GATEWAY_SECRET (auth, log and tenant services): the auth service signs its x-auth-* answer with
 * it and the services accept x-auth-* only with that signature. Unset, they trust the headers
 * (NetworkPolicy alone keeps others out) and say so at start.
 */
export const gatewayConfig = {
  GATEWAY_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
};

export const storeConfig = {
  STORE: z.enum(['sqlite', 'mongodb']).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  SQLITE_PATH: optionalString,
  /** A SQLite query with search or user_agent (no index can serve a substring) stops after this long. */
  SQLITE_QUERY_TIMEOUT_MS: z.coerce.number().int().min(1).default(10_000),
  /** Appends (INSERTs, rollups, the FULL commit) on a writer thread, off the event loop (docs/configuration.md). */
  SQLITE_APPEND_THREAD: booleanFromEnv(true),
  MONGODB_URI: optionalString,
  MONGODB_DB: z.string().min(1).default('logdb'),
  MONGODB_MAX_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  MONGODB_MIN_POOL_SIZE: z.coerce.number().int().min(0).max(1000).default(0),
  MONGODB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  MONGODB_SOCKET_TIMEOUT_MS: z.coerce.number().int().min(0).default(0),
  MONGODB_QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  MONGODB_PING_TIMEOUT_MS: z.coerce.number().int().min(50).default(2_000),
  MONGODB_FEED_POLL_MS: z.coerce.number().int().min(10).default(1_000),
  MONGODB_FEED_LOOKBACK_MS: z.coerce.number().int().min(0).default(30_000),
};

export const queueConfig = {
  QUEUE: z.enum(['sqs', 'memory']).optional(),
  SQS_URL: optionalString,
  SQS_REGION: z.string().min(1).default('us-east-1'),
  SQS_QUEUE_NAME: z.string().min(1).default('log-queue'),
  SQS_DLQ_NAME: z.string().min(1).default('log-queue-dlq'),
  SQS_MAX_RECEIVE_COUNT: z.coerce.number().int().min(1).max(1000).default(5),
  SQS_WAIT_TIME_SECONDS: z.coerce.number().int().min(0).max(20).default(20),
  SQS_RECEIVERS: z.coerce.number().int().min(1).max(64).default(1),
  SQS_VISIBILITY_TIMEOUT: z.coerce.number().int().min(1).max(43_200).default(30),
  SQS_PUBLISH_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** Log service: how long concurrent publishes gather into one SendMessageBatch (docs/pipeline.md). */
  SQS_PUBLISH_GATHER_MS: z.coerce.number().int().min(0).max(1_000).default(5),
  /** Worker: wait after a receive of fewer than 10 messages, so the next one carries more (docs/configuration.md). */
  SQS_RECEIVE_GATHER_MS: z.coerce.number().int().min(0).max(10_000).default(250),
  /** Create missing queues at start (local SQS); the prod overlay sets false (README "Least-privilege IAM"). */
  SQS_CREATE_QUEUES: booleanFromEnv(true),
};

/**
 * Services start without their dependencies (MongoDB, SQS) and keep trying to reach them with
 * exponential backoff up to this delay between attempts (README "Starting before the dependencies").
 */
export const dependencyConfig = {
  DEPENDENCY_RETRY_MAX_MS: z.coerce.number().int().min(10).max(300_000).default(10_000),
};

/** The store adapters' settings, parsed from the store fragment (DESIGN §6: STORE follows MONGODB_URI). */
export const storeSettings = z.object(storeConfig).transform((config): StoreSettings & { mongo: MongoTuning } => ({
  store: config.STORE ?? (config.MONGODB_URI ? 'mongodb' : 'sqlite'),
  dataDir: config.DATA_DIR,
  sqlitePath: config.SQLITE_PATH,
  sqliteQueryTimeoutMs: config.SQLITE_QUERY_TIMEOUT_MS,
  sqliteAppendThread: config.SQLITE_APPEND_THREAD,
  mongodbUri: config.MONGODB_URI,
  mongodbDb: config.MONGODB_DB,
  mongo: {
    maxPoolSize: config.MONGODB_MAX_POOL_SIZE,
    minPoolSize: config.MONGODB_MIN_POOL_SIZE,
    connectTimeoutMs: config.MONGODB_CONNECT_TIMEOUT_MS,
    serverSelectionTimeoutMs: config.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    socketTimeoutMs: config.MONGODB_SOCKET_TIMEOUT_MS,
    queryTimeoutMs: config.MONGODB_QUERY_TIMEOUT_MS,
    pingTimeoutMs: config.MONGODB_PING_TIMEOUT_MS,
    feedPollMs: config.MONGODB_FEED_POLL_MS,
    feedLookbackMs: config.MONGODB_FEED_LOOKBACK_MS,
  },
}));

/** The SQS adapter's options, parsed from the queue fragment; its defaults are the adapter's defaults. */
export const sqsOptions = z.object(queueConfig).transform(
  (config) =>
    ({
      endpoint: config.SQS_URL,
      region: config.SQS_REGION,
      queueName: config.SQS_QUEUE_NAME,
      dlqName: config.SQS_DLQ_NAME,
      maxReceiveCount: config.SQS_MAX_RECEIVE_COUNT,
      waitTimeSeconds: config.SQS_WAIT_TIME_SECONDS,
      receivers: config.SQS_RECEIVERS,
      visibilityTimeoutSeconds: config.SQS_VISIBILITY_TIMEOUT,
      publishTimeoutMs: config.SQS_PUBLISH_TIMEOUT_MS,
      receiveGatherMs: config.SQS_RECEIVE_GATHER_MS,
      gatherMs: config.SQS_PUBLISH_GATHER_MS,
      createQueues: config.SQS_CREATE_QUEUES,
    }) satisfies SqsLogQueueOptions,
);

/** DESIGN §6: QUEUE defaults to sqs when SQS_URL is set. */
export function resolveQueue(config: { QUEUE?: 'sqs' | 'memory' | undefined; SQS_URL?: string | undefined }): 'sqs' | 'memory' {
  return config.QUEUE ?? (config.SQS_URL ? 'sqs' : 'memory');
}

/**
 * Tamper evidence (docs/tamper-evidence.md): every acknowledged event is under a signed checkpoint
 * within SEAL_INTERVAL seconds; INTEGRITY_ORIGIN names the log (each tenant's checkpoints say
 * `<origin>/<tenant>`, and it is the key name in their signature lines).
 */
export const integrityCommonConfig = {
  SEAL_INTERVAL: z.coerce.number().min(0).max(86_400).default(1),
  INTEGRITY_ORIGIN: z
    .string()
    .regex(/^[A-Za-z0-9.:_/-]{1,100}$/, 'letters, digits and . : _ / - only (it is the signed-note key name)')
    .default('logserver'),
  /** The public keys over time with their windows, as a JWKS (inline JSON); without it, the one key configured. */
  INTEGRITY_KEYRING: optionalString,
  /** Witness verifier keys (`name+hash+base64key`), comma-separated: whose cosignatures are accepted. */
  INTEGRITY_WITNESS_KEYS: optionalString,
};

export const integrityConfig = {
  ...integrityCommonConfig,
  INTEGRITY_SIGNING_KEY: optionalString,
};

/**
 * chdb keeps its data folder to one process, so it serves the all-in-one only; separate services
 * share a ClickHouse server.
 */
export function refuseEmbeddedAnalytics<T extends z.ZodType<{ ANALYTICS: string }>>(schema: T) {
  return schema.refine((config) => config.ANALYTICS !== 'chdb', {
    when: () => true,
    path: ['ANALYTICS'],
    message: "chdb is the all-in-one server's embedded engine; separate services use ANALYTICS=clickhouse with CLICKHOUSE_URL",
  });
}

/** Cross-field rules run even when other fields failed (`when`), so one start reports every problem. */
const always = () => true;

/** The analytics tier (README "Analytics"): off by default; chdb in the all-in-one, a ClickHouse server elsewhere. */
export const analyticsConfig = {
  ANALYTICS: z.enum(['off', 'chdb', 'clickhouse']).default('off'),
  CLICKHOUSE_URL: optionalString,
  CLICKHOUSE_DB: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)')
    .default('logdb'),
  CLICKHOUSE_USER: optionalString,
  CLICKHOUSE_PASSWORD: optionalString,
  /** Default $DATA_DIR/analytics. */
  CHDB_PATH: optionalString,
  ANALYTICS_SINK_BATCH: z.coerce.number().int().min(1).max(50_000).default(2000),
  ANALYTICS_SINK_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(200),
  ANALYTICS_QUERY_TIMEOUT_S: z.coerce.number().int().min(1).max(600).default(10),
  ANALYTICS_MAX_QUERIES: z.coerce.number().int().min(1).max(1000).default(8),
  ANALYTICS_MAX_QUERIES_PER_TENANT: z.coerce.number().int().min(1).max(1000).default(2),
};

/** ANALYTICS=clickhouse needs a server to talk to. */
export function requireClickHouseUrl<T extends z.ZodType<{ ANALYTICS: string; CLICKHOUSE_URL?: string | undefined }>>(schema: T) {
  return schema.refine((config) => config.ANALYTICS !== 'clickhouse' || Boolean(config.CLICKHOUSE_URL), {
    when: always,
    path: ['CLICKHOUSE_URL'],
    message: 'is required when ANALYTICS=clickhouse (e.g. http://clickhouse:8123)',
  });
}

/** The secret is required wherever a service cannot make one of its own (every service but all-in-one). */
export function requireAuthSecret<T extends z.ZodType<{ AUTH_SECRET?: string | undefined }>>(schema: T) {
  return schema.refine((config) => Boolean(config.AUTH_SECRET), {
    when: always,
    path: ['AUTH_SECRET'],
    message: 'is required (a long random string shared by auth and tenant)',
  });
}

/** STORE=mongodb needs somewhere to connect. */
export function requireMongoUri<T extends z.ZodType<{ STORE?: string | undefined; MONGODB_URI?: string | undefined }>>(schema: T) {
  return schema.refine((config) => config.STORE !== 'mongodb' || Boolean(config.MONGODB_URI), {
    when: always,
    path: ['MONGODB_URI'],
    message: 'is required when STORE=mongodb',
  });
}
