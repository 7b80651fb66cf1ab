import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What `logserver login` keeps: where the server is and the token to use. */
export interface Saved {
  url?: string | undefined;
  token?: string | undefined;
}

/** $XDG_CONFIG_HOME/logserver/config.json (~/.config/… by default), readable by its owner only. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'logserver', 'config.json');
}

export function readSaved(path = configPath()): Saved {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Saved;
  } catch {
    return {};
  }
}

export function writeSaved(saved: Saved, path = configPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Flags first, then LOGSERVER_URL / LOGSERVER_TOKEN, then what login saved; the URL defaults to the all-in-one's. */
export function resolveTarget(
  flags: { url?: string; token?: string },
  env: NodeJS.ProcessEnv = process.env,
): { url: string; token: string | undefined } {
  const saved = readSaved(configPath(env));
  return {
    url: flags.url ?? env.LOGSERVER_URL ?? saved.url ?? 'http://localhost:8080',
    token: flags.token ?? env.LOGSERVER_TOKEN ?? saved.token,
  };
}
