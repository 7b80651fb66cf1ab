/**
 * What /docs shows on each route beyond its schema: a description where the route has none, and
 * examples that work as they are in "Try it out" with the banner's token (the Chromium test in
 * services/all-in-one/test/docs-try-it-out.test.ts presses Execute on every one). Kept in one table
 * so that the page reads as one document; the routes keep their own summaries.
 */
export interface OperationDocs {
  description?: string;
  /** Query or path parameter examples, pre-filled by Swagger UI's "Try it out". */
  parameters?: Record<string, string | number>;
  /** The request body example. */
  body?: unknown;
}

const event = {
  action: 'update',
  resource_type: 'user',
  resource_id: '123',
  ip_address: '203.0.113.7',
  user_agent: 'Mozilla/5.0 (example)',
  before: { email: 'old@example.com' },
  after: { email: 'new@example.com' },
  metadata: { request_id: 'req-42' },
  severity: 'WARNING',
};

export const OPERATION_DOCS: Record<string, OperationDocs> = {
  'POST /api/v1/logs': {
    description:
      'Stores one event in the token’s tenant; `user_id` is the token’s `sub`, `tenant_id` its tenant, never the body’s. `timestamp` defaults to now. Answered once the event is durable (stored, or accepted by SQS). Roles: writer, admin.',
    body: event,
  },
  'POST /api/v1/logs/bulk': {
    body: [
      event,
      { ...event, action: 'login', resource_type: 'session', resource_id: 'sess-9', severity: 'INFO', before: undefined, after: undefined },
    ],
  },
  'GET /api/v1/logs': { parameters: { severity: 'INFO,WARNING,ERROR,CRITICAL', size: 10, sort: 'desc' } },
  'GET /api/v1/logs/{id}': {
    description:
      'One event of the caller’s tenant by its id (paste one from a POST answer or the list); 404 when the id is not in the caller’s tenant, whoever else has it.',
  },
  'GET /api/v1/logs/stats': {
    description:
      'By default the Python system’s `{"INFO":n,"WARNING":n,"ERROR":n,"CRITICAL":n}`. `group_by` counts by another field; `interval=hour|day` adds zero-filled buckets between `from` and `to`. Same filters as the list.',
    parameters: { group_by: 'severity' },
  },
  'GET /api/v1/logs/export': { parameters: { format: 'ndjson', sort: 'asc' } },
  'DELETE /api/v1/logs/cleanup': { parameters: { older_than_days: 3650, dry_run: 'true' } },
  'GET /api/v1/tenants': {
    description:
      'Every tenant with its key, name and creation time, never a secret. Platform admin only: role admin in the tenant named by AUTH_ADMIN_TENANT (the banner’s second token).',
  },
  'POST /api/v1/tenants': {
    description:
      'Creates a tenant and answers its signing key once as `secret` (HMAC-SHA256 of AUTH_SECRET and the key), so the tenant can mint its own tokens. 409 when the key exists: choose another. Platform admin only.',
    body: { key: 'acme', name: 'Acme Corp' },
  },
  'PUT /api/v1/retention': { body: { retention_days: 3650, severity_days: { INFO: 1825 } } },
  'GET /api/v1/tenants/{key}/retention': { parameters: { key: 'demo' } },
  'PUT /api/v1/tenants/{key}/retention': { parameters: { key: 'demo' }, body: { retention_days: 3650, severity_days: { INFO: 1825 } } },
  'GET /api/v1/integrity/public-key': {
    description: 'The PEM of the Ed25519 key that signs every digest, to verify digests and proofs offline (scripts/verify-offline.mjs).',
  },
  'GET /api/v1/integrity/checkpoints': {
    description:
      'The caller’s tenant’s signed checkpoints (C2SP tlog-checkpoint notes: tree size, root hash, key id), oldest first, each with the witness cosignatures it has; `leaves=true` adds the leaf hashes and tombstones each covers, which scripts/verify-offline.mjs rebuilds the tree from.',
  },
  'GET /api/v1/integrity/checkpoints/latest': {
    description:
      'The caller’s tenant’s newest signed checkpoint: keep it, and later ask /api/v1/integrity/consistency?from=<its tree_size> for the proof that the log only grew since (404 before the first seal).',
  },
  'GET /api/v1/integrity/consistency': { parameters: { from: 1 } },
  'POST /api/v1/integrity/checkpoints/{size}/cosignatures': {
    parameters: { size: 1 },
    body: {
      cosignature: '— witness.example.com Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=',
    },
  },
  'GET /api/v1/integrity/digests': {
    description:
      'The caller’s tenant’s signed digests (Merkle roots over its sealed events, each chained to the one before), oldest first; `leaves=true` adds the event hashes each covers.',
  },
  'GET /api/v1/streams': {
    description:
      'The tenant’s log-stream destinations (docs/streams.md): settings, which secrets are set (never their values), and each one’s delivery state: position, caught_up, lag, delivered and failed counts, dead letters, last error. Admin only.',
  },
  'POST /api/v1/streams': {
    description:
      'Adds a destination that receives every event of the tenant from now on (`start: "beginning"`: every event still stored), in commit order, batched, retried with backoff, then dead-lettered. Kinds: `webhook` (Standard Webhooks signature with a whsec_ secret), `splunk_hec` (token), `datadog` (api_key), `s3` (bucket, access keys). `filter` takes the list filters. Loopback, private, link-local and cluster addresses are refused (STREAM_DESTINATION_ALLOW lifts that). Secrets are sealed with STREAM_SECRET_KEY and never returned. 409 past STREAM_MAX_DESTINATIONS_PER_TENANT.',
    body: {
      kind: 'webhook',
      name: 'SIEM webhook',
      url: 'https://siem.example.com/hooks/audit',
      signing_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      filter: { severity: 'WARNING,ERROR,CRITICAL' },
    },
  },
  'GET /api/v1/streams/{id}': {
    description:
      'One destination of the tenant with its delivery state (paste an id from the POST answer or the list); 404 when it is not the caller’s tenant’s.',
  },
  'PATCH /api/v1/streams/{id}': {
    description:
      'Changes the fields given (name, enabled, filter, ca, the kind’s settings, its secrets); secrets left out stay, the kind cannot change. Delivery goes on from where it was.',
    body: { enabled: false },
  },
  'DELETE /api/v1/streams/{id}': {
    description: 'Removes the destination with its progress and dead letters; events already delivered stay where they went.',
  },
  'GET /api/v1/streams/{id}/dead-letters': {
    description:
      'The batches that ran out of retries (or were refused outright: a 4xx, a refused address), oldest first, with the error; their events are kept until a replay delivers them. At most STREAM_DLQ_MAX_BATCHES: when full, delivery stops (status blocked) rather than drop anything.',
  },
  'POST /api/v1/streams/{id}/dead-letters/replay': {
    description:
      'Marks dead letters for replay (every one, or `ids`); the deliverer sends them before its next batch, and those delivered leave the list.',
    body: {},
  },
  'GET /api/v1/logs/verify': {
    description:
      'Recomputes every sealed event’s hash and each digest’s root and signature for the caller’s tenant, and says what it found: intact, events changed or missing, or deleted by a recorded cleanup.',
  },
};

type Operation = {
  description?: string;
  parameters?: { name: string; example?: unknown }[];
  requestBody?: { content?: Record<string, { example?: unknown }> };
};

/** Adds the table's descriptions and examples to the generated document (routes that have their own keep them). */
export function addOperationDocs(paths: Record<string, Record<string, Operation> | undefined>): void {
  for (const [key, docs] of Object.entries(OPERATION_DOCS)) {
    const [method, path] = key.split(' ') as [string, string];
    const operation = paths[path]?.[method.toLowerCase()];
    if (!operation) continue;
    if (docs.description && !operation.description) operation.description = docs.description;
    for (const parameter of operation.parameters ?? []) {
      const example = docs.parameters?.[parameter.name];
      if (example !== undefined) parameter.example = example;
    }
    const json = operation.requestBody?.content?.['application/json'];
    if (json && docs.body !== undefined) json.example = JSON.parse(JSON.stringify(docs.body));
  }
}
