import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { allInOneEnv, type BenchContext, bearer } from '../context.js';
import { PYTHON_EVENT } from '../data.js';
import { hammer, type LoadResult, sideBySide } from '../http-load.js';
import { type Service, startOnFreePort } from '../processes.js';
import type { Figure } from '../report.js';

const TENANT = 'bench-streams';
const HEC_TOKEN = 'bench-hec-token';
const CONNECTIONS = 100;

type Behaviour = 'healthy' | 'hanging' | 'failing';

/**
 * A Splunk-HEC-shaped receiver on loopback: healthy answers 200 to every batch, hanging reads the
 * batch and never answers (the deliverer's request timeout ends it), failing answers 503 at once.
 */
class BenchReceiver {
  requests = 0;
  events = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly name: string,
    readonly behaviour: Behaviour,
  ) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(name: string, behaviour: Behaviour): Promise<BenchReceiver> {
    const server = createServer();
    const receiver = new BenchReceiver(server, name, behaviour);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => receiver.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('receiver not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    this.requests++;
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      if (this.behaviour === 'hanging') return;
      if (this.behaviour === 'failing') {
        response.writeHead(503).end('unavailable');
        return;
      }
      // HEC's batch form as the sender writes it: one JSON object per event, a line each.
      this.events += body.split('\n').filter((line) => line.length > 0).length;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** The destination's state as GET /api/v1/streams/{id} answers it. */
async function stateOf(server: Service, id: string, token: string): Promise<Record<string, unknown>> {
  const answer = await fetch(`${server.url}/api/v1/streams/${id}`, { headers: bearer(token) });
  return ((await answer.json()) as { data: { state: Record<string, unknown> } }).data.state;
}

/**
 * 11: does a failing destination raise POST p99? Three all-in-one servers, identical but for their
 * tenant's one log-stream destination: healthy, hanging (never answers), failing (503). Retries are
 * made as eager as the settings allow (10-50 ms backoff, 1 s request timeout), so the failing ones
 * work as hard as they can while scenario 1's POSTs run against each, in alternating slices beside
 * the healthy server: POST p99 and requests/s with each failing destination / with the healthy one.
 * BENCH_STREAMS_CONTROL=1 makes all three destinations healthy: an A/A run, the method's noise floor.
 */
export async function logStreamsUnderFailure(context: BenchContext): Promise<Figure[]> {
  const control = process.env.BENCH_STREAMS_CONTROL === '1';
  const scenario = `11 log streams: single POSTs, c=${CONNECTIONS}, with a failing destination vs a healthy one${control ? ' (control: all healthy)' : ''}`;
  const services: Service[] = [];
  const receivers = await Promise.all(
    (['healthy', 'hanging', 'failing'] as const).map((name) => BenchReceiver.start(name, control ? 'healthy' : name)),
  );
  try {
    const admin = await context.token(TENANT, 'admin');
    const writer = await context.token(TENANT, 'writer');
    const platform = await context.token('system', 'admin');
    const servers: { receiver: BenchReceiver; server: Service; destination: string }[] = [];
    for (const receiver of receivers) {
      const dataDir = join(context.workDir, `11-${receiver.name}`);
      mkdirSync(dataDir, { recursive: true });
      const server = await startOnFreePort(services, {
        name: receiver.name,
        args: [join(context.root, 'services/all-in-one/dist/main.js')],
        env: allInOneEnv(dataDir, context.authSecret, {
          STREAM_DESTINATION_ALLOW: '127.0.0.1',
          STREAM_INTERVAL_MS: '50',
          STREAM_RETRIES: '100',
          STREAM_RETRY_MIN_MS: '10',
          STREAM_RETRY_MAX_MS: '50',
          STREAM_REQUEST_TIMEOUT_MS: '1000',
        }),
        readyPath: '/readyz',
        workDir: context.workDir,
        logPrefix: '11-',
      });
      const tenant = await fetch(`${server.url}/api/v1/tenants`, {
        method: 'POST',
        headers: { ...bearer(platform), 'content-type': 'application/json' },
        body: JSON.stringify({ key: TENANT, name: TENANT }),
      });
      if (tenant.status !== 200) throw new Error(`creating tenant ${TENANT} on ${receiver.name}: ${tenant.status} ${await tenant.text()}`);
      const made = await fetch(`${server.url}/api/v1/streams`, {
        method: 'POST',
        headers: { ...bearer(admin), 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'splunk_hec', name: receiver.name, url: receiver.url, token: HEC_TOKEN, start: 'beginning' }),
      });
      if (made.status !== 200) throw new Error(`creating the ${receiver.name} destination: ${made.status} ${await made.text()}`);
      servers.push({ receiver, server, destination: ((await made.json()) as { data: { id: string } }).data.id });
    }
    const [healthy, ...failing] = servers as [(typeof servers)[0], ...typeof servers];
    const body = JSON.stringify(PYTHON_EVENT);
    const headers = bearer(writer);
    const load = (server: Service) => ({ url: `${server.url}/api/v1/logs`, body, headers, connections: CONNECTIONS });
    // Warm every server, and give each destination its first batch (the failing ones start failing).
    for (const { server } of servers) await hammer({ ...load(server), duration: 1 });

    const figures: Figure[] = [];
    let healthyPosted = 0;
    for (const bad of failing) {
      const { ours, baseline } = await sideBySide({
        ours: load(bad.server),
        baseline: load(healthy.server),
        seconds: context.sizes.postSeconds,
      });
      healthyPosted += baseline.ok2xx;
      const label = `${bad.receiver.name} destination / healthy destination`;
      const side = (figure: string, pick: (result: LoadResult) => number) => ({ figure, value: pick(ours), baseline: pick(baseline) });
      figures.push(
        { scenario, ...side(`POST p99 latency (ms), ${label}`, (result) => result.p99), target: { of: 'ratio', op: '<=', limit: 1.5 } },
        { scenario, ...side(`POST p50 latency (ms), ${label}`, (result) => result.p50) },
        { scenario, ...side(`requests/s, ${label}`, (result) => result.ok2xxPerSecond), target: { of: 'ratio', op: '>=', limit: 0.8 } },
        {
          scenario,
          figure: `errors, ${bad.receiver.name} destination`,
          value: ours.errors,
          target: { of: 'value', op: '<=', limit: 0 },
        },
      );
    }
    // The healthy destination delivered every event its server stored (warm-up included); the failing ones kept trying.
    const deadline = Date.now() + 60_000;
    let state = await stateOf(healthy.server, healthy.destination, admin);
    while (state.caught_up !== true && Date.now() < deadline) {
      await sleep(200);
      state = await stateOf(healthy.server, healthy.destination, admin);
    }
    const listed = await fetch(`${healthy.server.url}/api/v1/logs?size=1`, { headers: bearer(admin) });
    const stored = ((await listed.json()) as { meta: { total: number } }).meta.total;
    figures.push({
      scenario,
      figure: 'healthy destination: events delivered / events stored',
      value: healthy.receiver.events,
      baseline: stored,
      target: { of: 'ratio', op: '>=', limit: 1 },
      note: `caught up: ${String(state.caught_up)}; ${healthyPosted} of them POSTed in the measured slices`,
    });
    for (const bad of failing) {
      const badState = await stateOf(bad.server, bad.destination, admin);
      figures.push({
        scenario,
        figure: `${bad.receiver.name} destination: requests it was sent (failed attempts in its state)`,
        value: bad.receiver.requests,
        note: `failed_attempts ${String(badState.failed_attempts)}, status ${String(badState.status)}, delivered ${String(badState.delivered_events)}`,
      });
    }
    return figures;
  } finally {
    for (const service of services.reverse()) await service.stop();
    await Promise.all(receivers.map((receiver) => receiver.close()));
  }
}
