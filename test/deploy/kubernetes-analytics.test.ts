import { describe, expect, it } from 'vitest';
import { type KubeObject, kustomize } from '../../scripts/deploy/kustomize.js';
import { REPO_ROOT } from '../gateway/topology.js';

// The analytics component as the dev overlay includes it (every object is also schema-validated by
// kubernetes.test.ts, which renders the same overlay).
const objects = kustomize(`${REPO_ROOT}k8s/overlays/dev`);
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as KubeObject;
const podLabels = (kind: string, name: string): Record<string, string> => find(kind, name).spec.template.metadata.labels;
const envNames = (name: string): string[] =>
  find('Deployment', name).spec.template.spec.containers[0].env.map((v: { name: string }) => v.name);

/** Whether a NetworkPolicy peer (podSelector only, same namespace) selects pods with these labels. */
const selects = (
  peer: { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: unknown },
  labels: Record<string, string>,
) =>
  peer.namespaceSelector === undefined &&
  Object.entries(peer.podSelector?.matchLabels ?? {}).every(([key, value]) => labels[key] === value);

describe('k8s/components/analytics (in the dev overlay)', () => {
  it('runs ClickHouse as a StatefulSet with a volume for its data, probed on /ping', () => {
    const clickhouse = find('StatefulSet', 'clickhouse');
    expect(clickhouse.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    const container = clickhouse.spec.template.spec.containers[0];
    expect(container.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/clickhouse' });
    expect(container.readinessProbe.httpGet.path).toBe('/ping');
    expect(find('Service', 'clickhouse').spec.ports[0].port).toBe(8123);
  });

  it('takes every credential from Secrets, never from the ConfigMap', () => {
    const config = find(
      'ConfigMap',
      objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('logserver-config'))?.metadata.name as string,
    );
    expect(config.data).toMatchObject({ ANALYTICS: 'clickhouse', CLICKHOUSE_URL: 'http://clickhouse:8123', CLICKHOUSE_DB: 'logdb' });
    expect(Object.keys(config.data).filter((key) => /CLICKHOUSE_(USER|PASSWORD)|CUBEJS|AUTH_SECRET/.test(key))).toEqual([]);
    const fromSecret = (
      container: { env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string } } }[] },
      name: string,
    ) => container.env.find((variable) => variable.name === name)?.valueFrom?.secretKeyRef?.name;
    for (const name of ['log', 'log-worker']) {
      const container = find('Deployment', name).spec.template.spec.containers[0];
      expect(fromSecret(container, 'CLICKHOUSE_PASSWORD')).toMatch(/^logserver-clickhouse/);
    }
    const cube = find('Deployment', 'cube').spec.template.spec.containers[0];
    expect(fromSecret(cube, 'CUBEJS_DB_PASS')).toMatch(/^logserver-clickhouse/);
    expect(fromSecret(cube, 'AUTH_SECRET')).toMatch(/^logserver-auth/);
    expect(fromSecret(find('StatefulSet', 'clickhouse').spec.template.spec.containers[0], 'CLICKHOUSE_PASSWORD')).toMatch(
      /^logserver-clickhouse/,
    );
    expect(envNames('tenant')).not.toContain('CLICKHOUSE_PASSWORD');
  });

  it('lets only the worker, the log service and Cube reach ClickHouse', () => {
    const policy = find('NetworkPolicy', 'clickhouse-from-analytics-clients');
    expect(policy.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'clickhouse' });
    const peers = policy.spec.ingress.flatMap((rule: { from: unknown[] }) => rule.from);
    const reaches = (kind: string, name: string) =>
      peers.some((peer: Parameters<typeof selects>[0]) => selects(peer, podLabels(kind, name)));
    expect(reaches('Deployment', 'log')).toBe(true);
    expect(reaches('Deployment', 'log-worker')).toBe(true);
    expect(reaches('Deployment', 'cube')).toBe(true);
    for (const name of ['auth', 'tenant']) expect(reaches('Deployment', name), name).toBe(false);
    expect(reaches('StatefulSet', 'mongodb')).toBe(false);
    // No other policy opens ClickHouse: it is not a "data" tier pod, which every service may reach.
    const clickhouseLabels = podLabels('StatefulSet', 'clickhouse');
    const others = objects.filter(
      (o) => o.kind === 'NetworkPolicy' && o.metadata.name !== policy.metadata.name && o.metadata.name !== 'default-deny-ingress',
    );
    for (const other of others) {
      const selector = other.spec.podSelector;
      const matches =
        Object.entries(selector.matchLabels ?? {}).every(([key, value]) => clickhouseLabels[key] === value) &&
        (selector.matchExpressions ?? []).every((expression: { key: string; values: string[] }) =>
          expression.values.includes(clickhouseLabels[expression.key] ?? ''),
        );
      expect(matches, other.metadata.name).toBe(false);
    }
  });

  it('exposes Cube through ingress-nginx only, at cube.localhost', () => {
    const ingress = find('Ingress', 'cube');
    expect(ingress.spec.rules[0].host).toBe('cube.localhost');
    const policy = find('NetworkPolicy', 'cube-from-ingress-controller');
    expect(policy.spec.ingress[0].from[0].namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'ingress-nginx' });
  });

  it('leaves the prod overlay without the component (it may use a managed ClickHouse)', () => {
    const prod = kustomize(`${REPO_ROOT}k8s/overlays/prod`);
    expect(prod.some((o) => o.metadata.name === 'clickhouse')).toBe(false);
  });
});
