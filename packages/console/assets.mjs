import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where `make build` / `make start` put the console's static files (never committed). */
export const consoleAssetDir = fileURLToPath(new URL('./dist/', import.meta.url));

/** True once the build step has run: the server serves the console only then, and says how otherwise. */
export const consoleIsBuilt = () => existsSync(new URL('./dist/index.html', import.meta.url));
