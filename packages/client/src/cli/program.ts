import { createWriteStream, readFileSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ROLES, type Role } from '@logserver/shared/auth/identity';
import { mintToken } from '@logserver/shared/auth/jwt-verifier';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import WebSocket from 'ws';
import { LogserverClient, LogserverError, type WebSocketClass } from '../client.js';
import { checkCheckpoint, trustedKeys } from '../tree.js';
import type { Jwks, LogEvent, LogFilter, NewLogEvent } from '../types.js';
import { row, statsTable, table } from './output.js';
import { configPath, resolveTarget, writeSaved } from './settings.js';

/** The whole CLI as a commander program; main.ts parses the process's arguments with it. */
export function buildProgram(): Command {
  const program = new Command('logserver')
    .description('Send, search, export and watch the audit events of a logserver (docs/client.md)')
    .option('--url <url>', 'the server (LOGSERVER_URL, then what login saved, then http://localhost:8080)')
    .option('--token <jwt>', 'a bearer token (LOGSERVER_TOKEN, then what login saved)')
    .showHelpAfterError('(run with --help for usage)');

  function client(): LogserverClient {
    const { url, token } = resolveTarget(program.opts<{ url?: string; token?: string }>());
    if (!token) fail('no token: run `logserver login <jwt>`, set LOGSERVER_TOKEN or pass --token (mint one with `logserver token`)');
    return new LogserverClient({ baseUrl: url, token, WebSocket: WebSocket as unknown as WebSocketClass });
  }

  function fail(message: string): never {
    process.stderr.write(`logserver: ${message}\n`);
    process.exit(1);
  }

  const integer = (value: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a whole number, 1 or more');
    return parsed;
  };
  const json = (value: string) => {
    try {
      return JSON.parse(value) as Record<string, unknown>;
    } catch {
      throw new InvalidArgumentError('must be JSON, e.g. \'{"amount":12}\'');
    }
  };

  /** The filters of list, export, stats and the stream (README "Filters"), as options on a command. */
  function withFilters(command: Command): Command {
    return command
      .option('--action <action>')
      .option('--resource-type <type>')
      .option('--resource-id <id>')
      .option('--user-id <id>')
      .option('--ip-address <ip>')
      .option('--severity <list>', 'comma list: INFO,WARNING,ERROR,CRITICAL')
      .option('--user-agent <text>', 'substring of the user agent')
      .option('--from <time>', 'ISO 8601 date or date-time, inclusive')
      .option('--to <time>', 'ISO 8601 date or date-time, exclusive')
      .option('--day <YYYY-MM-DD>', 'one UTC day')
      .option('--search <text>', 'case-insensitive substring of the text fields and before/after/metadata');
  }

  function filterOf(options: Record<string, unknown>): LogFilter {
    const pick = (name: string) => (typeof options[name] === 'string' ? (options[name] as string) : undefined);
    return {
      action: pick('action'),
      resource_type: pick('resourceType'),
      resource_id: pick('resourceId'),
      user_id: pick('userId'),
      ip_address: pick('ipAddress'),
      severity: pick('severity'),
      user_agent: pick('userAgent'),
      from: pick('from'),
      to: pick('to'),
      timestamp: pick('day'),
      search: pick('search'),
    };
  }

  /** Runs a command's action, turning the server's refusals into one line on stderr and exit code 1. */
  const run =
    <A extends unknown[]>(action: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      try {
        await action(...args);
      } catch (error) {
        if (error instanceof LogserverError) {
          const problems = error.problems.map((problem) => `\n  ${problem.loc.join('.')}: ${problem.msg}`).join('');
          fail(`${error.status === 0 ? 'cannot reach the server' : `the server answered ${error.status}`}: ${error.message}${problems}`);
        }
        fail(error instanceof Error ? error.message : String(error));
      }
    };

  program
    .command('login')
    .description('Check a token against the server (--url, LOGSERVER_URL) and keep both for the next commands')
    .argument('<token>', 'the token to keep; - reads it from stdin')
    .action(
      run(async (given: string) => {
        const token = given === '-' ? readFileSync(0, 'utf8').trim() : given;
        const url = resolveTarget(program.opts<{ url?: string }>()).url;
        const probe = new LogserverClient({ baseUrl: url, token, retry: { retries: 1 } });
        // A writer may not read; the 403 still says the token is good.
        await probe.page({}, { pageSize: 1 }).catch((error: unknown) => {
          if (!(error instanceof LogserverError && error.status === 403)) throw error;
        });
        writeSaved({ url, token });
        process.stdout.write(`logged in to ${url}; token kept in ${configPath()}\n`);
      }),
    );

  program
    .command('post')
    .description('Send one event from options, or many from a file or stdin (NDJSON or a JSON array), in bulk')
    .option('--action <action>')
    .option('--resource-type <type>')
    .option('--resource-id <id>')
    .addOption(new Option('--severity <severity>').choices(['INFO', 'WARNING', 'ERROR', 'CRITICAL']))
    .option('--metadata <json>', 'a JSON object', json)
    .option('--before <json>', 'a JSON object', json)
    .option('--after <json>', 'a JSON object', json)
    .option('--event-id <uuid>', 'your own id for the event: sending it again stores nothing new')
    .option('--file <path>', 'events to send: NDJSON or a JSON array; - for stdin')
    .option('--idempotency-key <key>', 'the key for this call (one is made otherwise)')
    .action(
      run(async (options: Record<string, unknown>) => {
        const api = client();
        const key = options.idempotencyKey as string | undefined;
        if (typeof options.file === 'string') {
          const text = readFileSync(options.file === '-' ? 0 : options.file, 'utf8').trim();
          const events = (
            text.startsWith('[')
              ? JSON.parse(text)
              : text
                  .split('\n')
                  .filter((line) => line.trim() !== '')
                  .map((line) => JSON.parse(line))
          ) as NewLogEvent[];
          const stored = await api.bulk(events, { idempotencyKey: key });
          process.stdout.write(`${stored.map((event) => JSON.stringify(event)).join('\n')}\n`);
          process.stderr.write(`stored ${stored.length} events\n`);
          return;
        }
        if (typeof options.action !== 'string' || typeof options.resourceType !== 'string') {
          throw new Error('give --action and --resource-type, or --file with the events');
        }
        const event: NewLogEvent = {
          action: options.action,
          resource_type: options.resourceType,
          resource_id: options.resourceId as string | undefined,
          severity: options.severity as NewLogEvent['severity'],
          metadata: options.metadata as Record<string, unknown> | undefined,
          before: options.before as Record<string, unknown> | undefined,
          after: options.after as Record<string, unknown> | undefined,
          event_id: options.eventId as string | undefined,
        };
        process.stdout.write(`${JSON.stringify(await api.create(event, { idempotencyKey: key }))}\n`);
      }),
    );

  withFilters(program.command('query'))
    .description('Search events, newest first; a table, JSON or NDJSON')
    .option('--limit <n>', 'at most this many events', integer, 20)
    .addOption(new Option('--output <format>', 'table, json or ndjson').choices(['table', 'json', 'ndjson']).default('table'))
    .addOption(new Option('--sort <order>').choices(['asc', 'desc']).default('desc'))
    .action(
      run(async (options: Record<string, unknown>) => {
        const events: LogEvent[] = [];
        const limit = options.limit as number;
        for await (const event of client().list(filterOf(options), {
          sort: options.sort as 'asc' | 'desc',
          pageSize: Math.min(100, limit),
        })) {
          events.push(event);
          if (events.length >= limit) break;
        }
        if (options.output === 'json') process.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
        else if (options.output === 'ndjson') process.stdout.write(events.map((event) => `${JSON.stringify(event)}\n`).join(''));
        else process.stdout.write(`${table(events)}\n`);
      }),
    );

  withFilters(program.command('tail'))
    .description(
      'Watch events live as they are stored, each NDJSON line with its cursor; reconnects by itself after the last cursor, missing nothing',
    )
    .addOption(new Option('--output <format>', 'table rows or ndjson').choices(['table', 'ndjson']).default('ndjson'))
    .option('--after <cursor>', 'resume after this cursor (printed to stderr on exit)')
    .action(
      run(async (options: Record<string, unknown>) => {
        const live = client().stream({
          filter: filterOf(options),
          after: options.after as string | undefined,
          // NDJSON lines end with the event's cursor, as the stream and the export give it: `--after` resumes after any line.
          onEvent: (event, cursor) =>
            process.stdout.write(
              `${options.output === 'table' ? row(event) : JSON.stringify(cursor === undefined ? event : { ...event, cursor })}\n`,
            ),
          onState: (state, detail) => process.stderr.write(`[${state}${detail ? ` ${detail}` : ''}]\n`),
        });
        const stop = () => live.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const { code, reason } = await live.closed;
        // Not after an HTTP refusal (a 422 may be of that very cursor): what to resume from is only worth saying for a stream that ran.
        const refused = code >= 400 && code < 500;
        if (live.cursor !== undefined && !refused) process.stderr.write(`resume with: logserver tail --after ${live.cursor}\n`);
        if (code !== 1000) throw new Error(`the stream closed: ${code} ${reason}`);
      }),
    );

  withFilters(program.command('export'))
    .description('Stream every matching event into a file, with a progress bar on stderr')
    .requiredOption('--out <path>', 'the file to write (- for stdout)')
    .addOption(new Option('--format <format>').choices(['ndjson', 'csv', 'json']).default('ndjson'))
    .addOption(new Option('--sort <order>').choices(['asc', 'desc']).default('desc'))
    .option('--no-progress', 'no progress bar')
    .action(
      run(async (options: Record<string, unknown>) => {
        const api = client();
        const filter = filterOf(options);
        const total = await api.count(filter);
        const body = await api.exportStream(filter, { format: options.format as 'ndjson', sort: options.sort as 'asc' });
        const out = options.out === '-' ? process.stdout : createWriteStream(options.out as string);
        const bar =
          options.progress !== false && options.out !== '-'
            ? new SingleBar({
                format: 'export [{bar}] {value}/{total} events | {bytes}',
                stream: process.stderr,
                // Also where stderr is not a terminal (CI logs): a line every few seconds instead of a redrawn bar.
                noTTYOutput: true,
                notTTYSchedule: 2000,
              })
            : null;
        bar?.start(total, 0, { bytes: '0 B' });
        let events = 0;
        let bytes = 0;
        // Progress counts newlines: one per event in NDJSON and CSV (after the header), close enough for JSON.
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            bytes += chunk.length;
            for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) events++;
            bar?.update(Math.min(events, total), { bytes: `${(bytes / 1048576).toFixed(1)} MiB` });
            done(null, chunk);
          },
        });
        await pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream), counter, out);
        bar?.update(total);
        bar?.stop();
        if (options.out !== '-') process.stderr.write(`wrote ${total} events (${bytes} bytes) to ${options.out}\n`);
      }),
    );

  withFilters(program.command('stats'))
    .description('Count events by group (severity by default), optionally per hour or day')
    .option('--group-by <field>', 'severity, action, resource_type or user_id')
    .addOption(new Option('--interval <interval>').choices(['hour', 'day']))
    .addOption(new Option('--output <format>').choices(['table', 'json']).default('table'))
    .action(
      run(async (options: Record<string, unknown>) => {
        const stats = await client().stats({
          ...filterOf(options),
          group_by: options.groupBy as 'severity' | undefined,
          interval: options.interval as 'hour' | undefined,
        });
        if (options.output === 'json' || options.interval !== undefined) process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
        else process.stdout.write(`${statsTable(stats.data)}\n`);
      }),
    );

  /** The keys a command checks with: a pinned JWKS (--keys) or PEM (--public-key), else the server's own. */
  const pinnedKeys = (options: { keys?: string; publicKey?: string }): Jwks | string | undefined =>
    options.keys
      ? (JSON.parse(readFileSync(options.keys, 'utf8')) as Jwks)
      : options.publicKey
        ? readFileSync(options.publicKey, 'utf8')
        : undefined;

  program
    .command('checkpoint')
    .description('The tenant’s newest signed checkpoint, its signature checked here; save it to check consistency later (verify --since)')
    .option('--keys <file>', 'the JWKS you trust (GET /api/v1/integrity/keys); the server’s own otherwise')
    .option('--public-key <file>', 'one Ed25519 public key (PEM) you trust, instead of --keys')
    .action(
      run(async (options: { keys?: string; publicKey?: string }) => {
        const api = client();
        const [checkpoint, keys] = await Promise.all([api.latestCheckpoint(), pinnedKeys(options) ?? api.keys()]);
        const { leaves: _leaves, ...shown } = checkpoint;
        const checked = checkCheckpoint(checkpoint, trustedKeys(keys));
        if (checked.problem !== null) {
          process.stderr.write(`logserver: ${checked.problem}\n`);
          process.exitCode = 2;
        }
        process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      }),
    );

  program
    .command('verify')
    .description(
      'Verify the tenant’s log on the server; --event checks one event’s inclusion proof here, --since checks here that the log extends a checkpoint you kept',
    )
    .option('--event <id>', 'check this event’s inclusion proof locally')
    .option('--checkpoint <size>', 'with --event: prove against the checkpoint of this tree size (default: the newest)', integer)
    .option('--since <file>', 'a checkpoint you kept (the output of `logserver checkpoint`): check consistency with it locally')
    .option('--keys <file>', 'the JWKS you trust (GET /api/v1/integrity/keys); the server’s own otherwise')
    .option('--public-key <file>', 'one Ed25519 public key (PEM) you trust, instead of --keys')
    .action(
      run(async (options: { event?: string; checkpoint?: number; since?: string; keys?: string; publicKey?: string }) => {
        const api = client();
        const keys = pinnedKeys(options);
        if (options.event) {
          const checked = await api.checkEvent(options.event, {
            ...(typeof keys === 'string' ? { publicKeyPem: keys } : keys ? { keys } : {}),
            ...(options.checkpoint === undefined ? {} : { checkpoint: options.checkpoint }),
          });
          const against = checked.proof.checkpoint
            ? { checkpoint: checked.proof.checkpoint.tree_size, leaf_index: checked.proof.leaf_index }
            : { digest_seq: checked.proof.digest?.seq ?? null };
          process.stdout.write(
            `${JSON.stringify({ valid: checked.valid, format: checked.format, checks: checked.checks, problem: checked.problem, ...against }, null, 2)}\n`,
          );
          if (!checked.valid) process.exitCode = 2;
          return;
        }
        if (options.since) {
          const trusted = JSON.parse(readFileSync(options.since, 'utf8')) as { tree_size?: unknown; root_hash?: unknown };
          if (typeof trusted.tree_size !== 'number' || typeof trusted.root_hash !== 'string')
            throw new Error(
              `${options.since} is not a checkpoint: it needs tree_size and root_hash (save one with \`logserver checkpoint\`)`,
            );
          const checked = await api.checkConsistency({ tree_size: trusted.tree_size, root_hash: trusted.root_hash }, keys ? { keys } : {});
          process.stdout.write(
            `${JSON.stringify(
              {
                valid: checked.valid,
                checks: checked.checks,
                problem: checked.problem,
                from: trusted.tree_size,
                to: checked.consistency.to,
              },
              null,
              2,
            )}\n`,
          );
          if (!checked.valid) process.exitCode = 2;
          return;
        }
        const report = await api.verify();
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        if (report.status !== 'intact') process.exitCode = 2;
      }),
    );

  program
    .command('token')
    .description('Mint an HS256 tenant token where the server’s AUTH_SECRET is at hand (the all-in-one keeps it in data/auth-secret)')
    .requiredOption('--tenant <key>')
    .addOption(new Option('--role <role>').choices([...ROLES]).makeOptionMandatory())
    .option('--sub <subject>', 'the user id the events will carry', 'cli')
    .option('--ttl <seconds>', 'lifetime in seconds', integer, 3600)
    .option('--secret <secret>', 'AUTH_SECRET (or the AUTH_SECRET environment variable, or --secret-file)')
    .option('--secret-file <path>', 'a file holding AUTH_SECRET')
    .option('--audience <aud>', 'AUTH_AUDIENCE', process.env.AUTH_AUDIENCE ?? 'logserver')
    .option('--issuer <iss>', 'AUTH_ISSUER', process.env.AUTH_ISSUER ?? 'issuer')
    .addOption(
      new Option('--scheme <scheme>', 'AUTH_KEY_SCHEME')
        .choices(['hmac-sha256', 'md5-legacy'])
        .default(process.env.AUTH_KEY_SCHEME ?? 'hmac-sha256'),
    )
    .action(
      run(async (options: Record<string, string | number>) => {
        const secret =
          (options.secret as string | undefined) ??
          (options.secretFile ? readFileSync(options.secretFile as string, 'utf8').trim() : undefined) ??
          process.env.AUTH_SECRET;
        if (!secret) throw new Error('minting needs the server’s secret: --secret, --secret-file or AUTH_SECRET');
        const token = await mintToken({
          secret,
          scheme: options.scheme as 'hmac-sha256',
          audience: options.audience as string,
          issuer: options.issuer as string,
          requireExp: true,
          tenant: options.tenant as string,
          role: options.role as Role,
          sub: options.sub as string,
          ttlSeconds: options.ttl as number,
        });
        process.stdout.write(`${token}\n`);
      }),
    );
  return program;
}
