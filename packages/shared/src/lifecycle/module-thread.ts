import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread running the module `name` that sits beside the caller (`from` is the
 * caller's import.meta.url), built or from source alike. Built, the caller is a `.js` file in
 * dist and so is the thread's module. From source (tests, `node --import tsx`,
 * `--conditions=development`) both are `.ts` files, and Node 20 runs neither `--import tsx` nor a
 * `.ts` entry in a worker ("Unknown file extension .ts"): the thread then starts as a one-line
 * eval that loads the module through tsx's own API (tsImport), which also compiles what it imports.
 * tsx is resolved from the working directory, as `node --import tsx` resolves it.
 */
export function startModuleThread(from: string, name: string, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  if (!from.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, from), options);
  const entry = new URL(`./${name}.ts`, from).href;
  const boot = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(from)}))`;
  return new Worker(boot, { ...options, eval: true });
}
