import type { ClientOptions } from 'ws';
import WebSocket from 'ws';

export interface StreamClient {
  ws: WebSocket;
  /** Every text frame in arrival order, parsed as JSON where it is JSON (events, notices) and raw otherwise ("pong"). */
  // biome-ignore lint/suspicious/noExplicitAny: tests read frames field by field
  frames: any[];
  /** Resolves with the close code and reason once the connection is closed. */
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** A refused upgrade: the HTTP status and the parsed envelope the server answered with. */
export interface RefusedUpgrade {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read bodies field by field
  body: any;
}

/** The stream URL for a server, with the query parameters given (the token among them, or not). */
export function streamUrl(serverUrl: string, query: Record<string, string> = {}): string {
  const url = new URL('/api/v1/logs/stream', serverUrl.replace(/^http/, 'ws'));
  for (const [name, value] of Object.entries(query)) url.searchParams.append(name, value);
  return url.toString();
}

/** Opens a real `ws` client and collects its frames; rejects with the refusal if the upgrade is refused. */
export function openStream(url: string, options: ClientOptions = {}): Promise<StreamClient> {
  const ws = new WebSocket(url, options);
  // biome-ignore lint/suspicious/noExplicitAny: see StreamClient.frames
  const frames: any[] = [];
  ws.on('message', (data, isBinary) => {
    const text = data.toString();
    if (isBinary) frames.push(data);
    else {
      try {
        frames.push(JSON.parse(text));
      } catch {
        frames.push(text);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        frames,
        closed,
        close: async () => {
          if (ws.readyState !== WebSocket.CLOSED) {
            ws.terminate();
            await closed;
          }
        },
      }),
    );
    ws.once('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      response.on('end', () => {
        let body: unknown = null;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        reject(Object.assign(new Error(`upgrade refused with ${response.statusCode}`), { status: response.statusCode, body }));
        ws.terminate();
      });
    });
    // Kept for the socket's life: a reset after the test is done with it is not a test failure.
    ws.on('error', reject);
  });
}

/** The refusal of an upgrade the test expects to be refused. */
export async function refusedUpgrade(url: string, options: ClientOptions = {}): Promise<RefusedUpgrade> {
  try {
    const client = await openStream(url, options);
    await client.close();
  } catch (error) {
    const { status, body } = error as { status?: number; body?: unknown };
    if (status !== undefined) return { status, body };
    throw error;
  }
  throw new Error(`expected ${url} to be refused, but it upgraded`);
}

/** Waits until the check holds; fails with the description if it does not within the timeout. */
export async function until(description: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A stream opened without `after=` starts with `{"type":"live","cursor":…}` (the head of the store);
 * resolves with that cursor once it has arrived, which is when the server is subscribed.
 */
export async function headCursor(client: StreamClient, timeoutMs = 5_000): Promise<string> {
  await until('the first frame (live, with the head cursor)', () => client.frames.length > 0, timeoutMs);
  const first = client.frames[0];
  if (first?.type !== 'live' || typeof first.cursor !== 'string')
    throw new Error(`expected a live frame first, got ${JSON.stringify(first)}`);
  return first.cursor;
}
