import { readFileSync } from 'node:fs';
import { type NewmanRunSummary, run } from 'newman';

const extra = new URL('../../extra/', import.meta.url);
export const POSTMAN_COLLECTION = new URL('logserver.postman_collection.json', extra);

/** Runs the Postman collection in extra/ with one of its environment files, overriding variables (host, tenant, secrets). */
export function runCollection(environment: string, overrides: Record<string, string>): Promise<NewmanRunSummary> {
  return new Promise((resolve, reject) => {
    run(
      {
        collection: JSON.parse(readFileSync(POSTMAN_COLLECTION, 'utf8')),
        environment: JSON.parse(readFileSync(new URL(environment, extra), 'utf8')),
        envVar: Object.entries(overrides).map(([key, value]) => ({ key, value })),
        reporters: [],
        timeoutRequest: 10_000,
      },
      (error, summary) => (error ? reject(error) : resolve(summary)),
    );
  });
}
