import { readFileSync } from 'node:fs';

/** The parts of a .cpuprofile this reads (V8's format, as `node --cpu-prof` writes it). */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** A category and the test of a frame (its function name and script URL) that puts a sample in it. */
export type Category = readonly [name: string, test: (functionName: string, url: string) => boolean];

export const IDLE = 'idle';
export const STARTUP = 'startup: module loading';

/**
 * The categories of a POST's work on the server's main thread. A sample goes to the category of
 * the innermost frame on its stack that any category matches, so the hash a handler calls counts
 * as the hash, not as the handler. The order matters only for a frame that two tests match.
 */
export const POST_CATEGORIES: readonly Category[] = [
  [IDLE, (name) => name === '(idle)'],
  ['garbage collection', (name) => name === '(garbage collector)'],
  [
    STARTUP,
    (name, url) =>
      /cjs\/loader|esm\/(loader|module_job|translators|utils)/.test(url) || name === 'compileSourceTextModule' || name === 'wrapSafe',
  ],
  ['event hash (RFC 8785 + SHA-256)', (_, url) => url.includes('integrity/event-hash')],
  [
    'hand-off to the writer thread (postMessage, its answer)',
    (name, url) => /threaded-log-store|node:internal\/worker/.test(url) || name === 'postMessage',
  ],
  [
    'group commit gather (DataLoader, the queue, the store handler)',
    (_, url) => /dataloader|in-process\/log-queue|store-handler/.test(url),
  ],
  ['the live stream feed', (_, url) => /sqlite\/log-feed|in-process\/log-feed/.test(url)],
  ['tenant registered check', (_, url) => url.includes('registered-tenants')],
  ['token and identity', (_, url) => /shared\/dist\/auth\/|jose/.test(url)],
  ['per-tenant rate limit', (_, url) => /rate-limit|toad-cache/.test(url)],
  ['metrics', (_, url) => /prom-client|http\/metrics/.test(url)],
  ['request logging', (_, url) => /pino|http\/logger/.test(url)],
  ['the answer (envelope and event JSON)', (name, url) => /plainEventEnvelope|isPlainEvent/.test(name) || url.includes('http/envelope')],
  [
    'body validation (fast path, zod)',
    (_, url) => /log-event-fast-path|schemas\/log-event|zod|plain-first|fastify\/lib\/validation/.test(url),
  ],
  ['body JSON parse', (_, url) => /secure-json-parse|content-type-parser/.test(url)],
  ['id and time (uuid v7, Date)', (_, url) => /uuid|crypto\/random/.test(url)],
  ['Fastify routing, hooks and reply', (_, url) => /fastify|find-my-way|avvio/.test(url)],
  [
    "Node's HTTP and sockets",
    (name, url) => /_http_|node:net|stream_base|streams\/|node:events|timers|task_queues|async_hooks/.test(url) || name === 'writev',
  ],
];

export interface CategoryTotals {
  /** Milliseconds of samples per category ("other": no frame matched). */
  ms: Map<string, number>;
  /** All samples, in ms. */
  total: number;
}

/** Sums a profile's samples by category (see POST_CATEGORIES). */
export function categorize(file: string, categories: readonly Category[]): CategoryTotals {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  // One answer per node: a node's category is its own, else its parent's.
  const categoryOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = categoryOf.get(id);
    if (known !== undefined) return known;
    const { functionName, url } = (nodes.get(id) as CpuProfile['nodes'][number]).callFrame;
    const own = categories.find(([, test]) => test(functionName, url))?.[0];
    const parent = parents.get(id);
    const category = own ?? (parent === undefined ? 'other' : resolve(parent));
    categoryOf.set(id, category);
    return category;
  };
  const ms = new Map<string, number>();
  let total = 0;
  for (const [index, id] of profile.samples.entries()) {
    const delta = (profile.timeDeltas[index] ?? 0) / 1000;
    total += delta;
    const category = resolve(id);
    ms.set(category, (ms.get(category) ?? 0) + delta);
  }
  return { ms, total };
}
