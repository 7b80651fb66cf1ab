import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are read field by field
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are read field by field
  [field: string]: any;
}

function has(command: string): boolean {
  try {
    execFileSync(command, ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return command === 'kustomize' && hasKustomize();
  }
}

function hasKustomize(): boolean {
  try {
    execFileSync('kustomize', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Where scripts/test-prerequisites.sh puts the kubectl it fetches when none on PATH has kustomize v5. */
const FETCHED_KUBECTL = fileURLToPath(new URL('../../.tools/bin/kubectl', import.meta.url));

/** Which tool renders kustomizations here: `kubectl kustomize` (kustomize is built in) or the `kustomize` binary. */
export function kustomizeCommand(): [string, ...string[]] {
  if (existsSync(FETCHED_KUBECTL)) return [FETCHED_KUBECTL, 'kustomize'];
  if (has('kubectl')) return ['kubectl', 'kustomize'];
  if (hasKustomize()) return ['kustomize', 'build'];
  throw new Error(
    'neither kubectl nor kustomize is on PATH: run bash scripts/test-prerequisites.sh (make test runs it), which fetches kubectl into .tools/bin',
  );
}

/** Renders a kustomization directory into its objects, as `kubectl apply -k` would send them. */
export function kustomize(dir: string): KubeObject[] {
  const [command, ...args] = kustomizeCommand();
  const output = execFileSync(command, [...args, dir], { encoding: 'utf8' });
  return parseAllDocuments(output).map((document) => {
    if (document.errors.length > 0) throw new Error(`${dir}: ${document.errors[0]?.message}`);
    return document.toJS() as KubeObject;
  });
}

/**
 * kustomize folds long base64 values over several lines; the API server's decoder skips the line
 * breaks, the schema's `byte` format does not.
 */
function normalize(object: KubeObject): KubeObject {
  if (object.kind !== 'Secret' || !object.data) return object;
  const data = Object.fromEntries(
    Object.entries(object.data as Record<string, string>).map(([key, value]) => [key, value.replace(/\s+/g, '')]),
  );
  return { ...object, data };
}

/** kubernetes-models (core and KEDA) validate an object against its OpenAPI schema; throws with the path of the first error. */
export async function validateKubeObject(object: KubeObject): Promise<void> {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : [undefined, object.apiVersion];
  const specifier =
    group === 'keda.sh'
      ? `@kubernetes-models/keda/keda.sh/${version}`
      : group
        ? `kubernetes-models/${group}/${version}`
        : `kubernetes-models/${version}`;
  // Picked at run time: vite's static analysis of a template here only printed warnings.
  const module = await import(/* @vite-ignore */ specifier);
  const Model = module[object.kind];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(normalize(object)).validate();
}
