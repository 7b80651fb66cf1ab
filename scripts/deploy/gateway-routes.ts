import { AUTH_HEADERS } from '@logserver/shared/auth/identity';
import { ROUTE_RULES, type RouteRule, STREAM_PATH } from '@logserver/shared/auth/rbac';
import { LIMITS } from '@logserver/shared/schemas/limits';

/** The services a gateway forwards to; auth only answers the gateway's own subrequests. */
export type Upstream = 'log' | 'tenant';

/**
 * Which service serves a path prefix. The role matrix says who may call a route; this says where
 * it lives. The Ingress (k8s/base/ingress.yaml) routes the same prefixes to the same Services,
 * and test/deploy/gateway-config.test.ts checks that both cover every rule.
 */
export const SERVICE_PREFIXES: readonly { prefix: string; service: Upstream }[] = [
  { prefix: '/api/v1/logs', service: 'log' },
  { prefix: '/api/v1/integrity', service: 'log' },
  { prefix: '/api/v1/streams', service: 'log' },
  { prefix: '/api/v1/tenants', service: 'tenant' },
  { prefix: '/api/v1/retention', service: 'tenant' },
];

export interface GatewayLocation {
  /** The route pattern from the role matrix (`/api/v1/logs/:id`). */
  path: string;
  /** The nginx location modifier and argument: `= /api/v1/logs` or `~ ^/api/v1/logs/[^/]+$`. */
  match: string;
  service: Upstream;
  /** Methods the matrix allows here; the auth service refuses the rest with 403. */
  methods: string[];
  websocket: boolean;
}

/**
 * Paths anyone may read, without a token (DESIGN §3: `/docs` is for anyone): the log service's
 * OpenAPI page and document. The Ingress `logserver-public` serves the same without auth-url.
 */
export const PUBLIC_PREFIXES: readonly { prefix: string; service: Upstream }[] = [{ prefix: '/docs', service: 'log' }];

export function serviceFor(path: string): Upstream {
  const found = SERVICE_PREFIXES.find(({ prefix }) => path === prefix || path.startsWith(`${prefix}/`));
  if (!found) throw new Error(`no service serves ${path}: add its prefix to SERVICE_PREFIXES in scripts/deploy/gateway-routes.ts`);
  return found.service;
}

/** nginx location for a matrix path: exact for literal paths, an anchored regex for `:param` segments. */
function locationMatch(path: string): string {
  if (!path.includes('/:')) return `= ${path}`;
  const pattern = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return `~ ^${pattern}$`;
}

/** One location per distinct path of the role matrix, literal paths first (nginx checks `=` before regexes anyway). */
export function gatewayLocations(rules: readonly RouteRule[] = ROUTE_RULES): GatewayLocation[] {
  const byPath = new Map<string, GatewayLocation>();
  for (const rule of rules) {
    const known = byPath.get(rule.path);
    if (known) {
      if (!known.methods.includes(rule.method)) known.methods.push(rule.method);
      continue;
    }
    byPath.set(rule.path, {
      path: rule.path,
      match: locationMatch(rule.path),
      service: serviceFor(rule.path),
      methods: [rule.method],
      websocket: rule.path === STREAM_PATH,
    });
  }
  return [...byPath.values()].sort((a, b) => Number(a.match.startsWith('~')) - Number(b.match.startsWith('~')));
}

export interface GatewayOptions {
  /** nginx `listen` argument: `8080` in compose, `127.0.0.1:<port>` in the end-to-end test. */
  listen: string;
  /** Base URLs without a path, e.g. `http://auth:8081`. */
  upstreams: Record<Upstream | 'auth', string>;
  /** Where nginx keeps request bodies and buffers when it runs without root (tests); omit for the image defaults. */
  tempDir?: string;
  /** Seconds a WebSocket may stay idle; the stream pings every 30 s, so anything above that keeps it open. */
  websocketTimeout?: number;
}

/** The nginx upstream block of a service: `proxy_pass http://log_service` reuses its kept-alive connections. */
const upstreamName = (service: string) => `${service.replace(/-/g, '_')}_service`;
const upstreamUrl = (service: string) => `http://${upstreamName(service)}`;

/**
 * Idle connections each nginx worker keeps open to each service (#15): without them every request
 * and every auth subrequest opened a new TCP connection, and under 1000 clients the services'
 * accept queues overflowed. 60 s is below Node's keep-alive timeout (Fastify's 72 s), so nginx is
 * the side that closes an idle connection and never sends on one the service is closing.
 */
export const UPSTREAM_KEEPALIVE = { connections: 256, requests: 10_000, timeoutSeconds: 60 };

/** One upstream block per service, from its base URL (`http://auth:8080` -> `server auth:8080;`). */
function upstreamBlocks(options: GatewayOptions): string[] {
  return (['auth', 'log', 'tenant'] as const).flatMap((service) => {
    const { protocol, host, pathname } = new URL(options.upstreams[service]);
    if (protocol !== 'http:' || pathname !== '/')
      throw new Error(`upstream ${service} must be http://host:port, not ${options.upstreams[service]}`);
    return [
      `  upstream ${upstreamName(service)} {`,
      `    server ${host};`,
      `    keepalive ${UPSTREAM_KEEPALIVE.connections};`,
      `    keepalive_requests ${UPSTREAM_KEEPALIVE.requests};`,
      `    keepalive_timeout ${UPSTREAM_KEEPALIVE.timeoutSeconds}s;`,
      '  }',
    ];
  });
}

const ENVELOPE = (code: number, msg: string) => `'{"code":${code},"msg":"${msg}","data":null}'`;

/** The `x-auth-*` headers as nginx variable names (`x-auth-tenant` -> `$auth_tenant`). */
function authHeaderVariables(): { header: string; variable: string; upstreamVariable: string }[] {
  return Object.values(AUTH_HEADERS).map((header) => {
    const name = header.replace(/^x-/, '').replace(/-/g, '_');
    return { header, variable: `$${name}`, upstreamVariable: `$upstream_http_${header.replace(/-/g, '_')}` };
  });
}

/** What every proxied location sets besides the x-auth-* headers. */
const PROXY_COMMON = [
  'proxy_http_version 1.1;',
  'proxy_set_header Host $host;',
  'proxy_set_header Upgrade $http_upgrade;',
  // "" (no Connection header) for plain requests keeps the upstream connection alive; upgrade for a WebSocket.
  'proxy_set_header Connection $connection_upgrade;',
  'proxy_set_header X-Request-ID $request_id;',
  'proxy_set_header X-Real-IP $remote_addr;',
  // The gateway is the first proxy it trusts: what a client sent as X-Forwarded-For is replaced, not extended.
  'proxy_set_header X-Forwarded-For $remote_addr;',
  'proxy_set_header X-Forwarded-Proto $scheme;',
];

/** A public prefix: no auth subrequest, and any x-auth-* header a client sends is dropped all the same. */
function publicLocation(prefix: string, service: Upstream): string[] {
  return [
    `    # ${prefix} (public) -> ${service}`,
    `    location ~ ^${prefix}(/|$) {`,
    ...authHeaderVariables().map(({ header }) => `      proxy_set_header ${header} "";`),
    ...PROXY_COMMON.map((line) => `      ${line}`),
    `      proxy_pass ${upstreamUrl(service)};`,
    '    }',
  ];
}

function proxiedLocation(location: GatewayLocation, options: GatewayOptions): string[] {
  const headers = authHeaderVariables();
  const timeout = options.websocketTimeout ?? 3600;
  return [
    `    # ${location.methods.join(', ')} ${location.path} -> ${location.service}`,
    `    location ${location.match} {`,
    // A subrequest shares its parent's variables, so /_auth reads this location's $uri here.
    '      set $original_path $uri;',
    '      auth_request /_auth;',
    ...headers.map(({ variable, upstreamVariable }) => `      auth_request_set ${variable} ${upstreamVariable};`),
    // proxy_set_header replaces whatever the client sent under these names, and an empty value
    // drops the header altogether: the service sees the auth service's answer or nothing.
    ...headers.map(({ header, variable }) => `      proxy_set_header ${header} ${variable};`),
    ...PROXY_COMMON.map((line) => `      ${line}`),
    ...(location.websocket ? [`      proxy_read_timeout ${timeout}s;`, `      proxy_send_timeout ${timeout}s;`] : []),
    `      proxy_pass ${upstreamUrl(location.service)};`,
    '    }',
  ];
}

/**
 * The docker-compose gateway: what the Ingress does, in plain nginx. Every API path of the role
 * matrix asks the auth service first (`auth_request`, as ingress-nginx's `auth-url`), copies the
 * x-auth-* headers of its answer onto the upstream request, and upgrades WebSockets.
 */
export function renderGatewayConf(options: GatewayOptions): string {
  const temp = options.tempDir
    ? ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'].map(
        (directive) => `  ${directive} ${options.tempDir}/${directive.replace('_temp_path', '')};`,
      )
    : [];
  const lines = [
    '# Generated by `pnpm render:gateway` from the role table in packages/shared/src/auth/route-rules.ts.',
    '# Do not edit: test/deploy/gateway-config.test.ts fails when this file differs from the render.',
    'worker_processes auto;',
    'events {',
    '  worker_connections 4096;',
    '}',
    'http {',
    '  access_log off;',
    '  server_tokens off;',
    // The largest body a route takes (bulk), so the service's own 413 in the envelope answers beyond it.
    `  client_max_body_size ${LIMITS.bulkBodyBytes};`,
    ...temp,
    '  map $http_upgrade $connection_upgrade {',
    '    default upgrade;',
    "    '' '';",
    '  }',
    // Host names resolve once, when nginx starts (compose starts the gateway after the services are healthy).
    ...upstreamBlocks(options),
    '  server {',
    `    listen ${options.listen};`,
    '    default_type application/json;',
    '',
    '    # The forward-auth subrequest, as ingress-nginx sends it: the original method and URL, the',
    '    # client headers (Authorization), no body.',
    '    location = /_auth {',
    '      internal;',
    '      proxy_pass_request_body off;',
    '      proxy_set_header Content-Length "";',
    '      proxy_set_header Upgrade "";',
    // The authority is ours, never the client's Host (a Host of backslashes and a `?` made the
    // auth service read another path), and X-Original-Path is the path nginx routes on: $uri of the
    // main request, kept in $original_path by each location (inside this subrequest $uri is /_auth).
    '      proxy_set_header X-Original-URL $scheme://gateway$request_uri;',
    '      proxy_set_header X-Original-Path $original_path;',
    '      proxy_set_header X-Original-Method $request_method;',
    '      proxy_set_header X-Request-ID $request_id;',
    // HTTP/1.1 without a Connection header: the subrequest reuses a kept-alive connection to auth.
    // HEAD, because nginx discards an auth answer's body unread and so closes the connection under
    // it; a HEAD answer has none. The auth service decides on X-Original-Method, not on this method.
    '      proxy_method HEAD;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    `      proxy_pass ${upstreamUrl('auth')}/auth/verify;`,
    '    }',
    '',
    ...gatewayLocations().flatMap((location) => [...proxiedLocation(location, options), '']),
    ...PUBLIC_PREFIXES.flatMap(({ prefix, service }) => [...publicLocation(prefix, service), '']),
    '    location / {',
    `      return 404 ${ENVELOPE(404, 'Not found')};`,
    '    }',
    '',
    '    # Refusals and gateway failures in the envelope; upstream answers pass through untouched.',
    '    error_page 401 = @unauthorized;',
    '    error_page 403 = @forbidden;',
    '    error_page 413 = @too_large;',
    '    error_page 500 502 503 504 = @unavailable;',
    '    location @unauthorized {',
    `      return 401 ${ENVELOPE(401, 'Unauthorized')};`,
    '    }',
    '    location @forbidden {',
    `      return 403 ${ENVELOPE(403, 'Forbidden')};`,
    '    }',
    '    location @too_large {',
    `      return 413 ${ENVELOPE(413, `Request body larger than ${LIMITS.bulkBodyBytes} bytes`)};`,
    '    }',
    '    location @unavailable {',
    `      return 503 ${ENVELOPE(503, 'Service unavailable')};`,
    '    }',
    '  }',
    '}',
    '',
  ];
  return lines.join('\n');
}

/** What docker-compose.yml runs: the services by their compose names on the image's port 8080, Docker's DNS. */
export const COMPOSE_GATEWAY: GatewayOptions = {
  listen: '8080',
  upstreams: { auth: 'http://auth:8080', log: 'http://log:8080', tenant: 'http://tenant:8080' },
};
