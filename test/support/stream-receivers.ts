import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { seededRandom } from '@logserver/testing/events';
import { generate } from 'selfsigned';

export type ReceiverKind = 'webhook' | 'splunk_hec' | 'datadog';

/**
 * up: accept every batch; down: reset every connection; hang: read the request and never answer;
 * flaky: fail `failureRate` of the requests, half before taking the batch and half after it (the
 * "lost answer" that makes a retry a duplicate); reject: 400 (a permanent failure); redirect: 307 to `redirectTo`.
 */
export type ReceiverMode = 'up' | 'down' | 'hang' | 'flaky' | 'reject' | 'redirect';

export interface ReceivedBatch {
  /** webhook-id for webhooks; the first and last event ids and count for HEC and Datadog. */
  key: string;
  eventIds: string[];
  /** The batch was taken (its events recorded) but answered with a failure. */
  answeredFailure: boolean;
}

/** A self-signed certificate for 127.0.0.1, made for this test run; the destination trusts it through its `ca` setting. */
export async function loopbackCertificate(): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  return { key: pems.private, cert: pems.cert };
}

/** The Standard Webhooks check, written out with node:crypto (not the library the server signs with). */
export function verifyStandardWebhook(secret: string, headers: IncomingMessage['headers'], body: string, nowSeconds: number): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    if (version !== 'v1' || value === undefined) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** A loopback receiver shaped like one destination kind, with failure modes; it records what it took. */
export class Receiver {
  mode: ReceiverMode = 'up';
  failureRate = 0.3;
  redirectTo = '';
  readonly batches: ReceivedBatch[] = [];
  /** Requests refused for a wrong signature, token, key or path: the tests expect none. */
  readonly refused: string[] = [];
  requests = 0;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  /**
   * The flaky mode's rolls, seeded per kind: the same failures in the same order on every run (with
   * each of these seeds the first flaky request loses its answer), so no run passes without them.
   */
  private readonly random: () => number;

  private constructor(
    readonly kind: ReceiverKind,
    private readonly server: Server,
    private readonly credential: string,
    readonly host: string,
    private readonly scheme: 'http' | 'https',
  ) {
    this.random = seededRandom({ webhook: 1, splunk_hec: 2, datadog: 3 }[kind]);
  }

  static async start(
    kind: ReceiverKind,
    credential: string,
    options: { tls?: { key: string; cert: string }; host?: string } = {},
  ): Promise<Receiver> {
    const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }) : createHttpServer();
    const receiver = new Receiver(kind, server, credential, options.host ?? '127.0.0.1', options.tls ? 'https' : 'http');
    server.on('connection', (socket: Socket) => {
      receiver.sockets.add(socket);
      socket.on('close', () => receiver.sockets.delete(socket));
    });
    server.on('request', (request, response) => receiver.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, receiver.host, resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `${this.scheme}://${this.host}:${this.port}`;
  }

  /** Every event id taken, in the order taken (with the duplicates). */
  get eventIds(): string[] {
    return this.batches.flatMap((batch) => batch.eventIds);
  }

  get uniqueEvents(): number {
    return new Set(this.eventIds).size;
  }

  async close(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    this.requests++;
    if (this.mode === 'down') {
      request.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (this.mode === 'hang') {
        this.hanging.add(response);
        return;
      }
      if (this.mode === 'redirect') {
        response.writeHead(307, { location: this.redirectTo }).end();
        return;
      }
      if (this.mode === 'reject') {
        response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"rejected by the test"}');
        return;
      }
      const roll = this.mode === 'flaky' ? this.random() : 1;
      if (roll < this.failureRate / 2) {
        response.writeHead(503).end('try again');
        return;
      }
      const batch = this.read(request, body);
      if (batch === null) {
        response.writeHead(401).end('refused');
        return;
      }
      const lost = roll < this.failureRate;
      this.batches.push({ ...batch, answeredFailure: lost });
      response.writeHead(lost ? 500 : 200, { 'content-type': 'application/json' }).end(lost ? 'lost answer' : '{"ok":true}');
    });
  }

  /** The batch's key and event ids, or null (recorded in `refused`) when the request is not what the kind's API expects. */
  private read(request: IncomingMessage, body: string): Omit<ReceivedBatch, 'answeredFailure'> | null {
    const refuse = (why: string) => {
      this.refused.push(why);
      return null;
    };
    const keyOf = (ids: string[]) => `${ids[0]}..${ids.at(-1)}#${ids.length}`;
    switch (this.kind) {
      case 'webhook': {
        if (!verifyStandardWebhook(this.credential, request.headers, body, Date.now() / 1000)) return refuse('bad webhook signature');
        const payload = JSON.parse(body) as { type: string; data: { events: { id: string }[] } };
        return { key: String(request.headers['webhook-id']), eventIds: payload.data.events.map((event) => event.id) };
      }
      case 'splunk_hec': {
        if (request.url !== '/services/collector/event') return refuse(`HEC path ${request.url}`);
        if (request.headers.authorization !== `Splunk ${this.credential}`) return refuse('HEC token');
        const ids = body
          .split('\n')
          .filter(Boolean)
          .map((line) => (JSON.parse(line) as { event: { id: string }; time: number }).event.id);
        return { key: keyOf(ids), eventIds: ids };
      }
      case 'datadog': {
        if (request.url !== '/api/v2/logs') return refuse(`Datadog path ${request.url}`);
        if (request.headers['dd-api-key'] !== this.credential) return refuse('DD-API-KEY');
        const ids = (JSON.parse(body) as { audit: { id: string } }[]).map((log) => log.audit.id);
        return { key: keyOf(ids), eventIds: ids };
      }
    }
  }
}

/**
 * What the delivery guarantee allows a receiver to have seen: every event, each batch (by key)
 * taken once more for each time it was taken and answered with a failure, and the distinct
 * batches in commit order. Returns the problems found (empty: the guarantee held).
 */
export function deliveryProblems(batches: readonly ReceivedBatch[], committed: readonly string[]): string[] {
  const problems: string[] = [];
  const firstSeen: ReceivedBatch[] = [];
  const taken = new Map<string, { times: number; lost: number }>();
  for (const batch of batches) {
    const tally = taken.get(batch.key) ?? { times: 0, lost: 0 };
    if (tally.times === 0) firstSeen.push(batch);
    tally.times++;
    if (batch.answeredFailure) tally.lost++;
    taken.set(batch.key, tally);
  }
  for (const [key, { times, lost }] of taken) {
    // Taken once, plus once again after every lost answer; the last time it was taken it was answered 2xx.
    if (times !== lost + 1) problems.push(`batch ${key} taken ${times} times with ${lost} lost answers`);
  }
  const inOrder = firstSeen.flatMap((batch) => batch.eventIds);
  if (inOrder.length !== committed.length) problems.push(`${inOrder.length} distinct-batch events for ${committed.length} committed`);
  const firstDiff = inOrder.findIndex((id, index) => id !== committed[index]);
  if (firstDiff !== -1) problems.push(`order differs from commit order at event ${firstDiff}`);
  return problems;
}
