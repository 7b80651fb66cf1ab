import { buildApp } from 'fauxqs';

export interface Fauxqs {
  /** The SQS endpoint, http://127.0.0.1:<port>. */
  endpoint: string;
  port: number;
  /** SQS requests served so far, by action (SendMessageBatch, ReceiveMessage, ...). */
  requests: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * fauxqs (an SQS emulator) in this process on loopback. Its own startFauxqs always binds every
 * interface, so this builds its app and listens on 127.0.0.1 only. Every SQS request is counted
 * by action on the server side, so a test can say how many requests a workload cost.
 */
export async function startFauxqs(port = 0): Promise<Fauxqs> {
  const app = buildApp({ logger: false });
  const requests: Record<string, number> = {};
  app.addHook('onRequest', async (request) => {
    const target = request.headers['x-amz-target'];
    if (typeof target !== 'string') return;
    const action = target.replace('AmazonSQS.', '');
    requests[action] = (requests[action] ?? 0) + 1;
  });
  app.get('/_test/requests', async () => requests);
  await app.listen({ port, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fauxqs is not listening on TCP');
  return { endpoint: `http://127.0.0.1:${address.port}`, port: address.port, requests, stop: () => app.close() };
}
