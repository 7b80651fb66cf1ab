import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { AddressPolicy } from './address-policy.js';
import { DestinationRefused } from './address-policy.js';

export interface ConnectOptions {
  /** Extra CA certificates (PEM) the destination's TLS certificate may chain to, beside the system's. */
  ca?: string | undefined;
  timeoutMs: number;
}

const bare = (host: string) => host.replace(/^\[|\]$/g, '');

/** A destination's own CA is added to Node's bundled roots, not put in their place. */
const withRoots = (ca: string) => [...rootCertificates, ca];

/**
 * An undici dispatcher whose every connection goes through the policy: a host name is resolved by
 * the policy's lookup (the socket dials an address that passed), and an IP literal, which net never
 * looks up, is checked before dialling. fetch follows redirects through the same dispatcher, so a
 * redirect to a refused address fails the same way.
 */
export function guardedDispatcher(policy: AddressPolicy, options: ConnectOptions): Agent {
  const connector = buildConnector({
    timeout: options.timeoutMs,
    lookup: policy.lookup,
    ...(options.ca ? { ca: withRoots(options.ca) } : {}),
  } as buildConnector.BuildOptions);
  return new Agent({
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    // One connection per destination at a time: a destination has one batch in flight.
    connections: 1,
    connect: (connectOptions, callback) => {
      const host = bare(connectOptions.hostname);
      if (isIP(host) !== 0) {
        const why = policy.addressRefusal(host);
        if (why) {
          callback(new DestinationRefused(why), null);
          return;
        }
      }
      connector(connectOptions, callback);
    },
  });
}

/** node:http(s) agents with the same checks, for the AWS SDK's request handler (S3). */
export function guardedNodeAgents(policy: AddressPolicy, options: ConnectOptions): { httpAgent: HttpAgent; httpsAgent: HttpsAgent } {
  const guard = <T extends HttpAgent>(agent: T): T => {
    const create = (agent as unknown as { createConnection: (...args: unknown[]) => unknown }).createConnection.bind(agent);
    (agent as unknown as { createConnection: (...args: unknown[]) => unknown }).createConnection = (connectOptions: unknown, ...rest) => {
      const host = bare(String((connectOptions as { host?: string }).host ?? ''));
      if (isIP(host) !== 0) {
        const why = policy.addressRefusal(host);
        if (why) throw new DestinationRefused(why);
      }
      return create(connectOptions, ...rest);
    };
    return agent;
  };
  const common = { keepAlive: true, maxSockets: 1, lookup: policy.lookup as never, timeout: options.timeoutMs };
  return {
    httpAgent: guard(new HttpAgent(common)),
    httpsAgent: guard(new HttpsAgent({ ...common, ...(options.ca ? { ca: withRoots(options.ca) } : {}) })),
  };
}
