/** Node fires a timeout longer than this at once, so longer waits are taken in steps. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Calls `onExpired` once `expSeconds` (a JWT exp) has passed; undefined means never.
 * Returns the function that cancels it.
 */
export function atExpiry(expSeconds: number | undefined, onExpired: () => void, now: () => number = Date.now): () => void {
  if (expSeconds === undefined) return () => {};
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const wait = expSeconds * 1000 - now();
    if (wait <= 0) {
      timer = undefined;
      onExpired();
      return;
    }
    timer = setTimeout(arm, Math.min(wait, MAX_TIMEOUT_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}

/** What the heartbeat needs of a WebSocket; `ws` satisfies it. */
export interface PingablePeer {
  ping(): void;
  terminate(): void;
  on(event: 'pong', listener: () => void): unknown;
}

/**
 * Protocol-level keep-alive: every interval the peer is pinged, and a peer that has not answered
 * the previous ping is terminated (its TCP connection may be gone without a FIN, and only
 * a write that gets no answer finds out). Returns the function that stops it.
 */
export function keepAlive(peer: PingablePeer, intervalMs: number, onDead: () => void): () => void {
  let answered = true;
  peer.on('pong', () => {
    answered = true;
  });
  const timer = setInterval(() => {
    if (!answered) {
      clearInterval(timer);
      onDead();
      peer.terminate();
      return;
    }
    answered = false;
    peer.ping();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
