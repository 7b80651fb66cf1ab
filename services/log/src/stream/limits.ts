/** How much one replica lets the live stream hold; docs/stream.md documents each. */
export interface StreamLimits {
  /** Open streams per tenant on one replica; the next one is closed with CLOSE.tenantLimit. */
  maxConnectionsPerTenant: number;
  /** Bytes queued for one slow client before its events are dropped and counted. */
  bufferBytes: number;
  /** How often each peer is pinged; a peer that has not answered the previous ping is terminated. */
  pingIntervalMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxConnectionsPerTenant: 100,
  bufferBytes: 1024 * 1024,
  pingIntervalMs: 30_000,
};

/** Close codes a stream client can act on: 4001 means "reconnect with a new token", 1008 "try later". */
export const CLOSE = {
  shuttingDown: { code: 1001, reason: 'server shutting down' },
  tenantLimit: (max: number) => ({ code: 1008, reason: `tenant connection limit reached (${max})` }),
  tokenExpired: { code: 4001, reason: 'token expired' },
} as const;
