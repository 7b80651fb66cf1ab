import { connect } from 'node:net';
import { expect } from 'vitest';
import WebSocket from 'ws';

/** Every header value of a response as one string, so a leak in any header is found by one search. */
export function headerText(headers: Headers): string {
  return [...headers.entries()].map(([name, value]) => `${name}: ${value}`).join('\n');
}

/** Asserts that none of the markers (ids, texts, tenant keys of another tenant) appears in any of the texts. */
export function expectNoneOf(markers: readonly string[], ...texts: string[]): void {
  for (const text of texts) {
    for (const marker of markers) expect(text, `leaked ${marker}`).not.toContain(marker);
  }
}

/** The error envelope every refusal must use: code equal to the status, a message, data null or a 422 list. */
export function expectEnvelope(response: { status: number; body: unknown; text: string }, status: number): void {
  expect(response.status, response.text).toBe(status);
  const body = response.body as { code: number; msg: string; data: unknown };
  expect(body).not.toBeNull();
  expect(body.code).toBe(status);
  expect(typeof body.msg).toBe('string');
  if (status === 422) {
    expect(Array.isArray(body.data)).toBe(true);
    for (const item of body.data as { loc: unknown; msg: unknown; type: unknown }[]) {
      expect(Array.isArray(item.loc)).toBe(true);
      expect(typeof item.msg).toBe('string');
      expect(typeof item.type).toBe('string');
    }
  } else {
    expect(body.data).toBeNull();
  }
}

export interface OpenStream {
  socket: WebSocket;
  /** Every text frame after the head frame (`{"type":"live","cursor"}`, docs/stream.md). */
  frames: string[];
  /** Resolves with the first frame (counting from `from`) that satisfies the predicate. */
  waitFor(predicate: (frame: string) => boolean, from?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Opens the WebSocket stream and records every text frame; rejects if the upgrade is refused.
 * Resolves once the head frame has come (the server is subscribed from then on: on MongoDB the head
 * is a store read), and leaves it out of `frames`.
 */
export async function openStream(baseUrl: string, query: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/api/v1/logs/stream${query ? `?${query}` : ''}`;
  const socket = new WebSocket(url, { headers });
  const frames: string[] = [];
  const waiters: { predicate: (frame: string) => boolean; from: number; resolve: (frame: string) => void }[] = [];
  let headSeen: () => void = () => {};
  const head = new Promise<void>((resolve) => {
    headSeen = resolve;
  });
  let first = true;
  socket.once('close', () => headSeen());
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    if (first && text.startsWith('{"type":"live"')) {
      first = false;
      headSeen();
      return;
    }
    first = false;
    headSeen();
    frames.push(text);
    for (const waiter of [...waiters]) {
      const hit = frames.slice(waiter.from).find(waiter.predicate);
      if (hit !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(hit);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    socket.once('error', reject);
  });
  await head;
  return {
    socket,
    frames,
    waitFor: (predicate, from = 0) =>
      new Promise((resolve) => {
        const hit = frames.slice(from).find(predicate);
        if (hit !== undefined) resolve(hit);
        else waiters.push({ predicate, from, resolve });
      }),
    close: () =>
      new Promise((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        socket.close();
      }),
  };
}

/** The status of a refused WebSocket upgrade and its body, or 101 when it was accepted. */
export function upgradeStatus(
  baseUrl: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/api/v1/logs/stream${query ? `?${query}` : ''}`;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.close();
      resolve({ status: 101, body: '' });
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    socket.once('error', reject);
  });
}

/** Sends raw bytes to the server and resolves with everything it answers before closing. */
export function rawRequest(baseUrl: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** The envelope of a raw HTTP answer: its status line's code and its parsed JSON body. */
export function parseRawAnswer(answer: string): { status: number; body: unknown; text: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  const text = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  return { status, body: JSON.parse(text), text };
}
