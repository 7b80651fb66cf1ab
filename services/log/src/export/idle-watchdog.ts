import type { Socket } from 'node:net';

/**
 * Calls `onIdle` once when the socket has sent no byte for `idleMs` while the export is still
 * open: a client that stopped reading fills the kernel's buffers, the writes stop completing and
 * bytesWritten stops moving. Checking a counter on a timer costs nothing per event sent.
 */
export function watchIdle(socket: Socket, idleMs: number, onIdle: () => void): () => void {
  let last = socket.bytesWritten;
  let lastMoved = Date.now();
  const timer = setInterval(
    () => {
      const now = Date.now();
      if (socket.bytesWritten !== last) {
        last = socket.bytesWritten;
        lastMoved = now;
        return;
      }
      if (now - lastMoved >= idleMs) {
        clearInterval(timer);
        onIdle();
      }
    },
    Math.max(50, Math.min(1_000, Math.floor(idleMs / 4))),
  );
  timer.unref();
  return () => clearInterval(timer);
}
