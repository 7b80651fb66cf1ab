import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Child, launch, waitForLine } from './processes.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ClickHouseDouble extends Child {
  url: string;
  port: number;
}

/**
 * Starts the chdb-backed ClickHouse HTTP stand-in as its own process (test/support/clickhouse-http-server.ts),
 * so a test can stop it like a ClickHouse outage and start it again on the same port and data folder.
 */
export async function startClickHouseDouble(path: string, port = 0): Promise<ClickHouseDouble> {
  const child = launch(['--import', 'tsx', join(ROOT, 'test/support/clickhouse-http-server.ts')], ROOT, {
    CLICKHOUSE_DOUBLE_PATH: path,
    CLICKHOUSE_DOUBLE_PORT: String(port),
  });
  const bound = await waitForLine(
    child,
    (line) => {
      try {
        return (JSON.parse(line) as { port?: number }).port;
      } catch {
        return undefined;
      }
    },
    30_000,
  );
  return { ...child, url: `http://127.0.0.1:${bound}`, port: bound };
}
