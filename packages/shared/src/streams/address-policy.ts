import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** A destination address or name that the policy refuses; the message says which and why. */
export class DestinationRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationRefused';
  }
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

export interface AllowList {
  ranges: Range[];
  /** Host names (exact) and `*.suffix` patterns whose name is not refused (their addresses still are, unless in a range). */
  names: string[];
}

const HOST_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** STREAM_DESTINATION_ALLOW: IPs, CIDR ranges and host names; null when an entry is none of them. */
export function parseAllowList(value: string | undefined): AllowList | null {
  const list: AllowList = { ranges: [], names: [] };
  for (const raw of (value ?? '').split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry.includes('/')) {
      try {
        list.ranges.push(ipaddr.parseCIDR(entry));
      } catch {
        return null;
      }
    } else if (ipaddr.isValid(entry)) {
      const address = ipaddr.process(entry);
      list.ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else if (HOST_PATTERN.test(entry)) {
      list.names.push(entry);
    } else {
      return null;
    }
  }
  return list;
}

/**
 * Names of the cluster's own services and of the machine itself: a single label (`mongodb`, `log`),
 * Kubernetes service names, `localhost`, cloud metadata names. Their addresses are private anyway;
 * the name check refuses them even when DNS answers something public.
 */
const INTERNAL_SUFFIXES = ['.localhost', '.local', '.svc', '.cluster.local', '.internal', '.home.arpa'];

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/**
 * Where a destination may connect (SSRF safety, docs/streams.md): public unicast addresses only,
 * unless STREAM_DESTINATION_ALLOW lists the address's range (or the name). It is checked when a
 * destination is saved and again on every connection, on the address actually dialled after DNS,
 * redirects included (the connection hooks in safe-connect.ts call `check`).
 */
/** How long `check` waits for DNS (saving a destination): a resolver that never answers must not hold the request. */
export const CHECK_LOOKUP_TIMEOUT_MS = 5_000;

export class AddressPolicy {
  constructor(
    private readonly allow: AllowList = { ranges: [], names: [] },
    private readonly resolver: Resolver = systemResolver,
    private readonly checkTimeoutMs = CHECK_LOOKUP_TIMEOUT_MS,
  ) {}

  static fromSetting(value: string | undefined, resolver?: Resolver): AddressPolicy {
    const list = parseAllowList(value);
    if (list === null) throw new Error('STREAM_DESTINATION_ALLOW: not a list of IPs, CIDR ranges or host names');
    return new AddressPolicy(list, resolver);
  }

  /** Why this IP may not be dialled, or null when it may. */
  addressRefusal(address: string): string | null {
    const bare = address.replace(/^\[|\]$/g, '');
    if (!ipaddr.isValid(bare)) return `${address} is not an IP address`;
    const parsed = ipaddr.process(bare);
    if (this.listed(bare)) return null;
    const range = parsed.range();
    if (range === 'unicast') return null;
    return `${bare} is a ${range} address: destinations must be public unless STREAM_DESTINATION_ALLOW lists it`;
  }

  /** Whether STREAM_DESTINATION_ALLOW lists this address: plain http is accepted only to such addresses. */
  listed(address: string): boolean {
    const bare = address.replace(/^\[|\]$/g, '');
    if (!ipaddr.isValid(bare)) return false;
    const parsed = ipaddr.process(bare);
    return this.allow.ranges.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits));
  }

  /** Why this host name may not be used, or null. IP literals are judged by addressRefusal. */
  nameRefusal(hostname: string): string | null {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    if (isIP(name.replace(/^\[|\]$/g, '')) !== 0) return null;
    const allowed = this.allow.names.some((entry) => (entry.startsWith('*.') ? name.endsWith(entry.slice(1)) : name === entry));
    if (allowed) return null;
    if (name === 'localhost' || !name.includes('.') || INTERNAL_SUFFIXES.some((suffix) => name.endsWith(suffix))) {
      return `${name} names a local or cluster-internal host: destinations must be public unless STREAM_DESTINATION_ALLOW lists it`;
    }
    return null;
  }

  /**
   * Resolves the host and answers its addresses; throws DestinationRefused when the name or any
   * address is refused. A name that does not resolve is refused, unless `unresolved: 'accept'`
   * (saving a destination whose DNS is not there yet: every connection is checked again anyway).
   * DNS that has not answered within `checkTimeoutMs` counts as not resolving (code ETIMEOUT).
   */
  async check(hostname: string, options: { unresolved?: 'refuse' | 'accept' } = {}): Promise<LookupAddress[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error(`${hostname}: no DNS answer within ${this.checkTimeoutMs} ms`), { code: 'ETIMEOUT' })),
        this.checkTimeoutMs,
      );
    });
    try {
      return await Promise.race([this.resolveChecked(hostname), timeout]);
    } catch (error) {
      if (error instanceof DestinationRefused) throw error;
      if (options.unresolved === 'accept') return [];
      throw new DestinationRefused(`${hostname} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'DNS error'})`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The addresses to dial, each one allowed; DNS errors are thrown as they are (a connection retries them). */
  private async resolveChecked(hostname: string): Promise<LookupAddress[]> {
    const bare = hostname.replace(/^\[|\]$/g, '');
    const nameWhy = this.nameRefusal(bare);
    if (nameWhy) throw new DestinationRefused(nameWhy);
    const family = isIP(bare);
    const addresses = family !== 0 ? [{ address: bare, family }] : await this.resolver(bare);
    if (addresses.length === 0) throw Object.assign(new Error(`${bare} has no address`), { code: 'ENODATA' });
    // Every address must pass: a name with one public and one private address could be dialled on either.
    for (const { address } of addresses) {
      const why = this.addressRefusal(address);
      if (why) throw new DestinationRefused(why);
    }
    return addresses;
  }

  /**
   * A `lookup` for net/tls connect options: resolves through the policy, so the address the socket
   * dials is one that passed. Answers in the shape the caller asked for (`all` or one address).
   */
  readonly lookup = (
    hostname: string,
    options: { all?: boolean; family?: number | string } | number,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const all = typeof options === 'object' && options.all === true;
    this.resolveChecked(hostname).then(
      (addresses) => {
        if (all) callback(null, addresses);
        else {
          const first = addresses[0] as LookupAddress;
          callback(null, first.address, first.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, all ? [] : ''),
    );
  };
}
