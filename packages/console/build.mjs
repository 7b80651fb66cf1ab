// The console's one build step (make build, make start): esbuild bundles the two entry points and
// copies the HTML pages into dist/, which the log service and the all-in-one serve at /console.
import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = new URL('./', import.meta.url);
const PAGES = ['index.html', 'embed-example.html', 'embed-example.js'];

/** Builds the console into `outdir` (default dist/); resolves with the bundle sizes in bytes. */
export async function buildConsole({ outdir = fileURLToPath(new URL('dist/', root)), minify = true } = {}) {
  const result = await esbuild.build({
    entryPoints: {
      console: fileURLToPath(new URL('src/console-app.ts', root)),
      'logserver-viewer': fileURLToPath(new URL('src/viewer.ts', root)),
    },
    outdir,
    bundle: true,
    format: 'esm',
    target: ['es2022'],
    minify,
    sourcemap: true,
    metafile: true,
    legalComments: 'linked',
    loader: { '.css': 'text' },
    logLevel: 'warning',
  });
  await mkdir(outdir, { recursive: true });
  for (const page of PAGES) await copyFile(new URL(`src/${page}`, root), `${outdir}/${page}`);
  return Object.fromEntries(Object.entries(result.metafile.outputs).map(([file, output]) => [file, output.bytes]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = await buildConsole();
  for (const [file, bytes] of Object.entries(sizes)) {
    if (file.endsWith('.js')) console.log(`  ${file.replace(/^.*\/dist\//, 'dist/')}  ${(bytes / 1024).toFixed(0)} KiB`);
  }
}
