import { z } from 'zod';
import { filterShape, type LogFilter, strictQuery } from '../schemas/log-query.js';
import type { TenantId } from '../store/tenant-id.js';

export const DESTINATION_KINDS = ['webhook', 'splunk_hec', 'datadog', 's3'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/** The filter a destination keeps: the list filters (docs/api.md "Filters") without `timestamp`, as query strings. */
const { timestamp: _day, ...streamFilterShape } = filterShape;
export const StreamFilter = strictQuery(streamFilterShape);
export type StreamFilterInput = z.input<typeof StreamFilter>;

/** The stored filter (as the admin wrote it) as the LogFilter the commit log reads with. */
export function logFilterOf(filter: Record<string, string>): LogFilter {
  return StreamFilter.parse(filter);
}

const httpsUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048)
  .refine((value) => !new URL(value).username && !new URL(value).password, 'must not carry credentials: use the secret fields');
const pem = z
  .string()
  .max(64 * 1024)
  .refine((value) => value.includes('-----BEGIN CERTIFICATE-----'), 'must be PEM certificates (-----BEGIN CERTIFICATE-----)');
const secretText = (max: number) => z.string().min(1).max(max);

const common = {
  name: z.string().min(1).max(128),
  enabled: z.boolean().default(true),
  filter: z.record(z.string(), z.string()).default({}),
  /** Extra CA certificates (PEM) the destination's TLS certificate may chain to, beside the system roots. */
  ca: pem.optional(),
};

/** Per kind: which fields are settings (stored, returned) and which are secrets (sealed, never returned). */
export const KIND_SCHEMAS = {
  webhook: {
    settings: z.object({ url: httpsUrl }),
    secrets: z.object({
      signing_secret: z
        .string()
        .regex(/^whsec_[A-Za-z0-9+/=]{24,}$/, 'must be a Standard Webhooks secret: whsec_ followed by base64 of 24 bytes or more'),
    }),
  },
  splunk_hec: {
    settings: z.object({
      url: httpsUrl.describe('the HEC base URL, e.g. https://splunk.example.com:8088; events go to /services/collector/event'),
      index: z.string().min(1).max(128).optional(),
      sourcetype: z.string().min(1).max(128).optional(),
    }),
    secrets: z.object({ token: secretText(256) }),
  },
  datadog: {
    settings: z.object({
      url: httpsUrl.describe('the logs intake of your site, e.g. https://http-intake.logs.datadoghq.eu; events go to /api/v2/logs'),
      service: z.string().min(1).max(128).optional(),
      tags: z.string().min(1).max(1024).optional(),
    }),
    secrets: z.object({ api_key: secretText(256) }),
  },
  s3: {
    settings: z.object({
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
      region: z.string().min(1).max(64).default('us-east-1'),
      endpoint: httpsUrl.optional().describe('an S3-compatible endpoint; AWS S3 when left out'),
      prefix: z
        .string()
        .max(512)
        .regex(/^[A-Za-z0-9!_.*'()/-]*$/, 'must be an object key prefix')
        .default(''),
      force_path_style: z.boolean().default(false),
    }),
    secrets: z.object({ access_key_id: secretText(128), secret_access_key: secretText(256) }),
  },
} as const;

export type DestinationSettings = { [K in DestinationKind]: z.infer<(typeof KIND_SCHEMAS)[K]['settings']> };
export type DestinationSecrets = { [K in DestinationKind]: z.infer<(typeof KIND_SCHEMAS)[K]['secrets']> };

/** The body of POST /api/v1/streams: the kind, the common fields, the kind's settings and its secrets, flat. */
export const CreateDestination = z.discriminatedUnion(
  'kind',
  DESTINATION_KINDS.map((kind) =>
    z.strictObject({
      kind: z.literal(kind),
      ...common,
      /** Where delivery starts: events stored from now on (default), or every event the tenant still stores. */
      start: z.enum(['now', 'beginning']).default('now'),
      ...KIND_SCHEMAS[kind].settings.shape,
      ...KIND_SCHEMAS[kind].secrets.shape,
    }),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
);

/** What the store keeps of a destination. `secret` is the sealed JSON of the kind's secrets. */
export interface DestinationRecord {
  id: string;
  tenant: TenantId;
  name: string;
  kind: DestinationKind;
  enabled: boolean;
  /** The kind's settings, and `ca` when given. */
  settings: Record<string, unknown>;
  filter: Record<string, string>;
  secret: string;
  createdAt: string;
  updatedAt: string;
}

/** Splits a validated create (or merged update) body into what is kept in the clear and what is sealed. */
export function splitBody(
  kind: DestinationKind,
  body: Record<string, unknown>,
): {
  settings: Record<string, unknown>;
  secrets: Record<string, unknown>;
} {
  const { settings, secrets } = KIND_SCHEMAS[kind];
  const kept = settings.parse(body) as Record<string, unknown>;
  if (body.ca !== undefined) kept.ca = body.ca;
  return { settings: kept, secrets: secrets.parse(body) as Record<string, unknown> };
}

/** The names of the secret fields of a kind (the API says which are set, never their values). */
export const secretFieldsOf = (kind: DestinationKind): string[] => Object.keys(KIND_SCHEMAS[kind].secrets.shape);

/** The host a destination connects to (checked against the address policy when it is saved). */
export function destinationHost(kind: DestinationKind, settings: Record<string, unknown>): { url: URL } {
  if (kind === 's3') {
    const endpoint = settings.endpoint as string | undefined;
    const region = String(settings.region ?? 'us-east-1');
    return { url: new URL(endpoint ?? `https://s3.${region}.amazonaws.com`) };
  }
  return { url: new URL(String(settings.url)) };
}
