// Renders the role table (packages/shared/src/auth/route-rules.ts) and the role matrix of
// docs/auth.md from the routes the all-in-one server registers, each with its declared audience.
// `pnpm render:routes` writes them; `pnpm render:routes --check` fails when either is stale.
// Run `pnpm render:gateway` after it: the gateway config follows the role table.
import { readFileSync, writeFileSync } from 'node:fs';
import {
  ROLE_MATRIX_DOC_PATH,
  ROUTE_RULES_PATH,
  registeredRouteRules,
  renderRoleMatrix,
  renderRouteRules,
  withRoleMatrix,
} from './deploy/route-table.js';

const rules = await registeredRouteRules();
const outputs = [
  { path: ROUTE_RULES_PATH, rendered: renderRouteRules(rules) },
  { path: ROLE_MATRIX_DOC_PATH, rendered: withRoleMatrix(readFileSync(ROLE_MATRIX_DOC_PATH, 'utf8'), renderRoleMatrix(rules)) },
];
let stale = false;
for (const { path, rendered } of outputs) {
  if (process.argv.includes('--check')) {
    if (readFileSync(path, 'utf8') !== rendered) {
      console.error(`${path} is stale: run \`pnpm render:routes\` and commit the result.`);
      stale = true;
    }
  } else {
    writeFileSync(path, rendered);
    console.log(`wrote ${path}`);
  }
}
process.exit(stale ? 1 : 0);
