/** The server's bulk limits (README "Limits"): events per request and bytes per body. */
export const BULK_EVENTS = 1000;
export const BULK_BYTES = 10 * 1024 * 1024;

/**
 * Cuts events into bulk bodies that each fit both limits, in order. An event that alone is over
 * the byte limit still gets a chunk of its own: the server answers it with a 413 that says so.
 */
export function chunkEvents<T>(events: readonly T[], maxEvents = BULK_EVENTS, maxBytes = BULK_BYTES): T[][] {
  const encoder = new TextEncoder();
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 2; // the array's brackets
  for (const event of events) {
    const size = encoder.encode(JSON.stringify(event)).length + 1; // and its comma
    if (current.length > 0 && (current.length >= maxEvents || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 2;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
