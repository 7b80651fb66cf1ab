import { readFileSync } from 'node:fs';
import { type NewmanRunOptions, type NewmanRunSummary, run } from 'newman';

const extra = new URL('../../extra/', import.meta.url);
export const POSTMAN_COLLECTION = new URL('logserver.postman_collection.json', extra);

interface CollectionJson {
  item: unknown[];
  variable?: { key: string; value: unknown }[];
}

export function readCollection(): CollectionJson {
  return JSON.parse(readFileSync(POSTMAN_COLLECTION, 'utf8')) as CollectionJson;
}

/**
 * Runs the Postman collection in extra/ (or a slice of its requests) with one of its environment
 * files, overriding variables (host, tenant, secrets) and, for a slice, the collection variables an
 * earlier slice set (log_id, ...).
 */
export function runCollection(
  environment: string,
  overrides: Record<string, string>,
  slice: { items?: [start: number, end?: number]; variables?: Record<string, unknown> } = {},
): Promise<NewmanRunSummary> {
  const collection = readCollection();
  if (slice.items) collection.item = collection.item.slice(...slice.items);
  const variables = slice.variables ?? {};
  collection.variable = (collection.variable ?? []).map((variable) =>
    variable.key in variables ? { ...variable, value: variables[variable.key] } : variable,
  );
  return new Promise((resolve, reject) => {
    run(
      {
        collection: collection as NewmanRunOptions['collection'],
        environment: JSON.parse(readFileSync(new URL(environment, extra), 'utf8')),
        envVar: Object.entries(overrides).map(([key, value]) => ({ key, value })),
        reporters: [],
        timeoutRequest: 10_000,
      },
      (error, summary) => (error ? reject(error) : resolve(summary)),
    );
  });
}
