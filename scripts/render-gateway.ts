// Renders deploy/nginx/gateway.conf (the docker-compose gateway) from the role matrix.
// `pnpm render:gateway` writes it; `pnpm render:gateway --check` fails when the committed file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COMPOSE_GATEWAY, renderGatewayConf } from './deploy/gateway-routes.js';

export const GATEWAY_CONF_PATH = fileURLToPath(new URL('../deploy/nginx/gateway.conf', import.meta.url));

const rendered = renderGatewayConf(COMPOSE_GATEWAY);
if (process.argv.includes('--check')) {
  const committed = readFileSync(GATEWAY_CONF_PATH, 'utf8');
  if (committed !== rendered) {
    console.error(`${GATEWAY_CONF_PATH} is stale: run \`pnpm render:gateway\` and commit the result.`);
    process.exit(1);
  }
  console.log(`${GATEWAY_CONF_PATH} matches the role matrix.`);
} else {
  writeFileSync(GATEWAY_CONF_PATH, rendered);
  console.log(`wrote ${GATEWAY_CONF_PATH}`);
}
