/** How much one replica lets the live stream hold; docs/stream.md documents each. */
export interface StreamLimits {
  /** Open streams per tenant on one replica; the next one is closed with CLOSE.tenantLimit. */
  maxConnectionsPerTenant: number;
  /** Open streams of all tenants together on one replica; the next one is closed with CLOSE.serverLimit. */
  maxConnections: number;
  /** Socket backlog plus live events held while catching up, per connection. */
  bufferBytes: number;
  /** How often each peer is pinged; a peer that has not answered the previous ping is terminated. */
  pingIntervalMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxConnectionsPerTenant: 100,
  maxConnections: 10_000,
  bufferBytes: 1024 * 1024,
  pingIntervalMs: 30_000,
};

/** Events read from the store per page, when replaying after a cursor or catching up a slow client. */
export const REPLAY_PAGE_SIZE = 100;

/**
 * Close codes a stream client can act on: 4001 "reconnect with a new token", 1008 "try later",
 * 1001 "reconnect (elsewhere)", 1011 "the store failed, reconnect". Each reason ends with
 * `; after=<cursor>` when the server knows where the client should resume.
 */
export const CLOSE = {
  shuttingDown: { code: 1001, reason: 'server shutting down' },
  tenantLimit: (max: number) => ({ code: 1008, reason: `tenant connection limit reached (${max})` }),
  serverLimit: (max: number) => ({ code: 1008, reason: `server connection limit reached (${max})` }),
  tokenExpired: { code: 4001, reason: 'token expired' },
  storeFailed: { code: 1011, reason: 'reading the store failed' },
} as const;
