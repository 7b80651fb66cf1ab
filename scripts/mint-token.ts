// Mints a token the servers accept: `make token ROLE=viewer TENANT=demo` runs it. Prints the token
// alone on stdout (TOKEN=$(make -s token ...) works); usage and problems go to stderr.
// The secret comes from AUTH_SECRET, or from the all-in-one server's $DATA_DIR/auth-secret.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Role } from '@logserver/shared/auth/identity';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { loadConfig } from '@logserver/shared/config/load-config';
import { authConfig, fromInvocationDir } from '@logserver/shared/config/schemas';
import { TenantKey } from '@logserver/shared/schemas/tenant';
import { z } from 'zod';

export const USAGE = `Mints a logserver token (JWT HS256) and prints it alone on stdout.

usage: make token ROLE=<role> TENANT=<key> [SUB=<id>] [TTL=<ttl>]
   or: node --conditions=development --import tsx scripts/mint-token.ts --tenant <key> --role <role> [--sub <id>] [--ttl <ttl>]

  --tenant  the tenant key, [a-z0-9_-]+ (the all-in-one creates "demo"; the platform admin is "system")
  --role    admin, auditor, viewer or writer
  --sub     who the token acts as (default <role>@<tenant>)
  --ttl     lifetime: seconds, or 30m, 12h, 7d; none for no exp (default 1h)

The secret is AUTH_SECRET, else $DATA_DIR/auth-secret (DATA_DIR defaults to ./data, where make start keeps it).
`;

/** "90", "90s", "30m", "12h", "7d" to seconds; "none" to no exp. */
export function parseTtl(value: string): number | undefined {
  if (value === 'none') return undefined;
  const match = /^(\d+)([smhd]?)$/.exec(value);
  if (!match) throw new Error(`--ttl ${value}: write seconds or a number with s, m, h or d (e.g. 1h), or none`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

async function main(): Promise<void> {
  let values: { tenant?: string; role?: string; sub?: string; ttl?: string; help?: boolean };
  try {
    values = parseArgs({
      options: {
        tenant: { type: 'string' },
        role: { type: 'string' },
        sub: { type: 'string' },
        ttl: { type: 'string', default: '1h' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const problems: string[] = [];
  const tenant = TenantKey.safeParse(values.tenant);
  const role = Role.safeParse(values.role);
  if (!tenant.success) problems.push(values.tenant ? `--tenant ${values.tenant}: use [a-z0-9_-]+` : '--tenant is required');
  if (!role.success) problems.push(values.role ? `--role ${values.role}: use admin, auditor, viewer or writer` : '--role is required');
  if (!tenant.success || !role.success) throw new Error(`${problems.join('; ')}\n\n${USAGE}`);
  const config = loadConfig(
    z.object({
      ...authConfig,
      DATA_DIR: z
        .string()
        .default('./data')
        .transform((path) => fromInvocationDir(path)),
    }),
  );
  let secret = config.AUTH_SECRET;
  if (!secret) {
    const path = join(config.DATA_DIR, 'auth-secret');
    try {
      secret = readFileSync(path, 'utf8').trim();
    } catch {
      throw new Error(`no AUTH_SECRET in the environment and no ${path}: set AUTH_SECRET, or run make start once to create one`);
    }
  }
  const ttlSeconds = parseTtl(values.ttl ?? '1h');
  if (ttlSeconds === undefined && config.AUTH_REQUIRE_EXP) {
    process.stderr.write('warning: a token without exp is refused unless the server runs with AUTH_REQUIRE_EXP=false\n');
  }
  const token = await mintToken({
    secret,
    scheme: config.AUTH_KEY_SCHEME,
    audience: config.AUTH_AUDIENCE,
    issuer: config.AUTH_ISSUER,
    requireExp: config.AUTH_REQUIRE_EXP,
    tenant: tenant.data,
    role: role.data,
    sub: values.sub ?? `${role.data}@${tenant.data}`,
    ttlSeconds,
  });
  process.stdout.write(`${token}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`.replace(/\n\n$/, '\n'));
    process.exit(1);
  });
}
