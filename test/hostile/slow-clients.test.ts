import { connect } from 'node:net';
import { CONNECTION_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '@logserver/shared/http/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startAllInOne } from '../support/all-in-one.js';

// Issue 13, "Also": Fastify's requestTimeout and connectionTimeout were unset (Node: 5 minutes for a
// request, never for an idle socket), so a client trickling a body held its connection for minutes.

let server: RunningServer;
beforeAll(async () => {
  server = await startAllInOne();
});
afterAll(() => server.close());

describe('slow clients are bounded in time', () => {
  it('the server is built with a request timeout of 60 s and an idle-socket timeout of 120 s', () => {
    expect(REQUEST_TIMEOUT_MS).toBe(60_000);
    expect(CONNECTION_TIMEOUT_MS).toBe(120_000);
    expect(server.app.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    expect(server.app.server.timeout).toBe(CONNECTION_TIMEOUT_MS);
  });

  it('still serves a request whose body arrives slowly but well within the timeout', async () => {
    const token = await server.token('slow', 'writer');
    const { hostname, port } = new URL(server.url);
    const body = JSON.stringify({ action: 'slow.post', resource_type: 'r' });
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, async () => {
        socket.write(
          `POST /api/v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`,
        );
        for (const char of body) {
          socket.write(char);
          await new Promise((wait) => setTimeout(wait, 20));
        }
      });
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
  });
});
