import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Session } from '../../packages/chdb/src/session.js';

/**
 * The real ClickHouse engine (chdb) behind ClickHouse's HTTP interface, as much of it as
 * @clickhouse/client uses: a stand-in for a ClickHouse server where none can run (no Docker here),
 * so the server adapter, the worker's sink and an analytics outage are tested on the real engine.
 * CLICKHOUSE_DOUBLE_PATH is its data folder, CLICKHOUSE_DOUBLE_PORT its port (0: any free one);
 * the first stdout line says which port it got.
 */
const session = new Session(process.env.CLICKHOUSE_DOUBLE_PATH);

/** Settings the client sends that change what a statement may hold; the others are HTTP-only. */
const PASSED_SETTINGS = new Set(['max_execution_time', 'max_memory_usage', 'max_rows_to_group_by', 'group_by_overflow_mode']);

/** Undoes the client's Escaped-format quoting of one value (\\, \', \t, \n, \r, \N). */
function unquoteEscaped(text: string): string {
  return text.replace(/\\(.)/gs, (_match, next: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0' })[next] ?? next);
}

/** An Array(String) parameter as the client writes it: ['a','b\'c']. */
function parseStringArray(text: string): string[] {
  const values: string[] = [];
  const pattern = /'((?:[^'\\]|\\.)*)'/gs;
  for (const match of text.matchAll(pattern)) values.push(unquoteEscaped(match[1] ?? ''));
  return values;
}

/** Turns the client's param_* text back into values, typed by the placeholders in the SQL. */
function parameters(sql: string, search: URLSearchParams): Record<string, unknown> {
  const types = new Map([...sql.matchAll(/\{(\w+):([^}]+)\}/g)].map((match) => [match[1] as string, match[2] as string]));
  const params: Record<string, unknown> = {};
  for (const [key, value] of search) {
    if (!key.startsWith('param_')) continue;
    const name = key.slice('param_'.length);
    const type = types.get(name) ?? 'String';
    params[name] = type.startsWith('Array(') ? parseStringArray(value) : unquoteEscaped(value);
  }
  return params;
}

function settingsClause(search: URLSearchParams): string {
  const list: string[] = [];
  for (const [key, value] of search) {
    if (!PASSED_SETTINGS.has(key)) continue;
    list.push(`${key} = ${/^\d+$/.test(value) ? value : `'${value.replace(/[^a-z_]/g, '')}'`}`);
  }
  return list.length === 0 ? '' : ` SETTINGS ${list.join(', ')}`;
}

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname === '/ping') {
    response.end('Ok.\n');
    return;
  }
  const payload = await body(request);
  const inUrl = url.searchParams.get('query');
  const insert =
    inUrl === null ? null : /^INSERT INTO ([\w.]+)(?: \(([^)]*)\))? FORMAT (JSONEachRow|JSONCompactEachRow|TabSeparated)\s*$/i.exec(inUrl);
  if (insert) {
    const columns = insert[2]?.split(',').map((column) => column.trim().replace(/^`|`$/g, ''));
    const settings = Object.fromEntries(
      ['optimize_on_insert', 'async_insert'].filter((name) => url.searchParams.get(name) === '0').map((name) => [name, 0]),
    );
    await session.insert({
      table: insert[1] as string,
      values: payload,
      format: insert[3] as 'JSONEachRow' | 'JSONCompactEachRow' | 'TabSeparated',
      ...(columns ? { columns } : {}),
      settings,
    });
    response.setHeader('X-ClickHouse-Summary', '{}');
    response.end('');
    return;
  }
  let sql = (inUrl ?? payload.toString('utf8')).trim();
  let format = 'TSV';
  const formatMatch = /\s+FORMAT\s+(\w+)\s*$/i.exec(sql);
  if (formatMatch) {
    format = formatMatch[1] as string;
    sql = sql.slice(0, formatMatch.index);
  }
  const result = await session.queryBindAsync(`${sql}${settingsClause(url.searchParams)}`, parameters(sql, url.searchParams), { format });
  response.setHeader('Content-Type', 'text/plain; charset=UTF-8');
  response.setHeader('X-ClickHouse-Format', format);
  response.end(Buffer.from(result.bytes()));
}

// Query parameters travel in the URL; a real server takes up to 1 MiB (http_max_uri_size).
const server = createServer({ maxHeaderSize: 1024 * 1024 }, (request, response) => {
  handle(request, response).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    const code = /Code: (\d+)/.exec(message)?.[1] ?? '1000';
    response.statusCode = 500;
    response.setHeader('X-ClickHouse-Exception-Code', code);
    response.end(message.startsWith('Code:') ? message : `Code: ${code}. DB::Exception: ${message}`);
  });
});
server.listen(Number(process.env.CLICKHOUSE_DOUBLE_PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  session.close();
  process.exit(0);
});
