import { readFileSync } from 'node:fs';
import { AUTH_HEADERS } from '@logserver/shared/auth/identity';
import { LIMITS } from '@logserver/shared/schemas/limits';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { type KubeObject, kustomize, validateKubeObject } from '../../scripts/deploy/kustomize.js';
import { AUTH_NODE_OPTIONS } from '../../scripts/deploy/runtime.js';
import { streamConfig } from '../../services/log/src/config.js';
import { REPO_ROOT } from '../gateway/topology.js';

const SERVICES = ['auth', 'log', 'log-worker', 'tenant'];
const overlays = { dev: kustomize(`${REPO_ROOT}k8s/overlays/dev`), prod: kustomize(`${REPO_ROOT}k8s/overlays/prod`) };
const find = (objects: KubeObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

describe.each(Object.entries(overlays))('k8s/overlays/%s', (overlay, objects) => {
  it('renders, and every object validates against its Kubernetes (or KEDA) schema', async () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const object of objects) {
      await expect(validateKubeObject(object), `${object.kind}/${object.metadata.name}`).resolves.toBeUndefined();
    }
  });

  it('puts everything in the logserver namespace', () => {
    for (const object of objects.filter((o) => o.kind !== 'Namespace'))
      expect(object.metadata.namespace, object.metadata.name).toBe('logserver');
  });

  it.each(SERVICES)('runs %s with probes, resources and a restricted security context', (name) => {
    const deployment = find(objects, 'Deployment', name);
    expect(deployment).toBeDefined();
    const pod = deployment?.spec.template.spec;
    const [container] = pod.containers;
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(Object.keys(container.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources.limits).sort()).toEqual(['cpu', 'memory']);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // Tilt's live updates write into the dev containers; everywhere else the root filesystem is read-only.
    expect(container.securityContext.readOnlyRootFilesystem).toBe(overlay !== 'dev');
    expect(pod.volumes).toContainEqual(expect.objectContaining({ name: 'tmp', emptyDir: expect.any(Object) }));
  });

  it('asks the auth service first and passes exactly the x-auth-* headers it answers with', () => {
    const ingress = find(objects, 'Ingress', 'logserver');
    const annotations = ingress?.metadata.annotations ?? {};
    const authUrl = new URL(annotations['nginx.ingress.kubernetes.io/auth-url'] as string);
    expect(authUrl.hostname).toBe('auth.logserver.svc.cluster.local');
    expect(find(objects, 'Service', 'auth')).toBeDefined();
    expect(annotations['nginx.ingress.kubernetes.io/auth-response-headers']?.split(',')).toEqual(Object.values(AUTH_HEADERS));
    const cacheKey = annotations['nginx.ingress.kubernetes.io/auth-cache-key'];
    if (cacheKey !== undefined) expect(cacheKey).toContain('$http_authorization');
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThan(60);
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThan(60);
    // One number with the service's bulk limit: a smaller one refused bulk bodies the service takes, in HTML.
    expect(annotations['nginx.ingress.kubernetes.io/proxy-body-size']).toBe(String(LIMITS.bulkBodyBytes));
  });

  it('keeps its connections to the auth service alive, as the compose gateway does (#15)', () => {
    const annotations = find(objects, 'Ingress', 'logserver')?.metadata.annotations ?? {};
    // ingress-nginx turns auth keepalive off when the auth-url host holds a variable, or when any of these is not positive.
    expect(annotations['nginx.ingress.kubernetes.io/auth-url']).not.toContain('$');
    for (const name of ['auth-keepalive', 'auth-keepalive-requests', 'auth-keepalive-timeout'])
      expect(Number(annotations[`nginx.ingress.kubernetes.io/${name}`]), name).toBeGreaterThan(0);
    expect(annotations['nginx.ingress.kubernetes.io/auth-method']).toBe('HEAD');
  });

  it('serves only the OpenAPI document without auth-url', () => {
    // Cube (the analytics component, in dev) checks logserver's tokens itself: cube.js checkAuth, test/deploy/cube.test.ts.
    const open = objects.filter(
      (o) => o.kind === 'Ingress' && o.metadata.name !== 'cube' && !o.metadata.annotations?.['nginx.ingress.kubernetes.io/auth-url'],
    );
    expect(open.map((o) => o.metadata.name)).toEqual(['logserver-public']);
    expect(open[0]?.spec.rules.flatMap((rule: { http: { paths: { path: string }[] } }) => rule.http.paths.map((p) => p.path))).toEqual([
      '/docs',
    ]);
  });

  it('denies all ingress by default and lets only ingress-nginx reach the API services', () => {
    const deny = find(objects, 'NetworkPolicy', 'default-deny-ingress');
    expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    const open = find(objects, 'NetworkPolicy', 'from-ingress-controller');
    expect(open?.spec.podSelector.matchExpressions[0].values.sort()).toEqual(['auth', 'log', 'tenant']);
    expect(open?.spec.ingress).toHaveLength(1);
    expect(open?.spec.ingress[0].from).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
      },
    ]);
  });

  it('gives the integrity signing key to the worker only, and the public key to the log service', () => {
    const envOf = (name: string): { name: string; valueFrom?: { secretKeyRef?: { name: string; optional?: boolean } } }[] =>
      find(objects, 'Deployment', name)?.spec.template.spec.containers[0].env ?? [];
    const names = (name: string) => envOf(name).map((variable) => variable.name);
    expect(names('log-worker')).toContain('INTEGRITY_SIGNING_KEY');
    expect(names('log')).toContain('INTEGRITY_PUBLIC_KEY');
    for (const service of ['auth', 'log', 'tenant']) expect(names(service)).not.toContain('INTEGRITY_SIGNING_KEY');
    const signing = envOf('log-worker').find((variable) => variable.name === 'INTEGRITY_SIGNING_KEY');
    expect(signing?.valueFrom?.secretKeyRef).toMatchObject({ name: 'logserver-integrity', optional: true });
  });

  it("runs the forward-auth with the runtime's small young generation, and no other service", () => {
    const nodeOptions = (name: string) =>
      (find(objects, 'Deployment', name)?.spec.template.spec.containers[0].env ?? []).find(
        (variable: { name: string }) => variable.name === 'NODE_OPTIONS',
      )?.value;
    expect(nodeOptions('auth')).toBe(AUTH_NODE_OPTIONS);
    for (const name of ['log', 'log-worker', 'tenant']) expect(nodeOptions(name)).toBeUndefined();
  });

  it('keeps disruptions to one pod of auth and log at a time', () => {
    for (const name of ['auth', 'log']) expect(find(objects, 'PodDisruptionBudget', name)?.spec.maxUnavailable).toBe(1);
  });
});

describe('the dev overlay', () => {
  const objects = overlays.dev;

  it('runs MongoDB as a one-node replica set that only the data services reach', () => {
    const mongodb = find(objects, 'StatefulSet', 'mongodb');
    expect(mongodb?.spec.template.spec.containers[0].args).toEqual(['--replSet', 'rs0', '--bind_ip_all']);
    expect(mongodb?.spec.template.metadata.labels['logserver.io/tier']).toBe('data');
    const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name.startsWith('logserver-mongodb'));
    expect(Buffer.from(secret?.data.MONGODB_URI, 'base64').toString()).toBe('mongodb://mongodb:27017/?replicaSet=rs0');
    const policy = find(objects, 'NetworkPolicy', 'data-stores-from-services');
    expect(policy?.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'logserver.io/data-access': 'true' } } }] }]);
    for (const name of ['log', 'log-worker', 'tenant'])
      expect(find(objects, 'Deployment', name)?.spec.template.metadata.labels['logserver.io/data-access']).toBe('true');
    expect(find(objects, 'Deployment', 'auth')?.spec.template.metadata.labels['logserver.io/data-access']).toBe('false');
  });

  it('runs ElasticMQ with log-queue and its dead-letter queue', () => {
    const config = find(objects, 'ConfigMap', objects.find((o) => o.metadata.name.startsWith('elasticmq-config'))?.metadata.name ?? '');
    const conf: string = config?.data['elasticmq.conf'];
    expect(conf).toMatch(/log-queue\s*\{[\s\S]*deadLettersQueue\s*\{\s*name = "log-queue-dlq"\s*maxReceiveCount = 5/);
    expect(find(objects, 'Deployment', 'elasticmq')?.spec.template.metadata.labels['logserver.io/tier']).toBe('data');
    expect(find(objects, 'ConfigMap', 'logserver-config')?.data.SQS_URL).toBe('http://elasticmq:9324');
  });

  // Issue 16: without it the log service (which holds no AUTH_SECRET) sealed cursors with a key of its
  // own, so a client that reconnected to another replica got a 422 for its cursor.
  it('gives every log replica the same STREAM_CURSOR_KEY from the logserver-auth Secret, and no other service', () => {
    const keyRef = (name: string) =>
      find(objects, 'Deployment', name)?.spec.template.spec.containers[0].env?.find(
        (env: { name: string }) => env.name === 'STREAM_CURSOR_KEY',
      );
    expect(keyRef('log')?.valueFrom.secretKeyRef).toEqual({
      name: expect.stringMatching(/^logserver-auth/),
      key: 'STREAM_CURSOR_KEY',
      optional: true,
    });
    for (const name of ['auth', 'log-worker', 'tenant']) expect(keyRef(name), name).toBeUndefined();
    const setting = z.object({ STREAM_CURSOR_KEY: streamConfig.STREAM_CURSOR_KEY });
    // The base Secret's blank value reads as unset (AUTH_SECRET, else a warning), not as a config error.
    expect(setting.parse({ STREAM_CURSOR_KEY: '' }).STREAM_CURSOR_KEY).toBeUndefined();
    const secret = find(objects, 'Secret', keyRef('log')?.valueFrom.secretKeyRef.name);
    const value = Buffer.from(secret?.data.STREAM_CURSOR_KEY, 'base64').toString();
    expect(setting.parse({ STREAM_CURSOR_KEY: value }).STREAM_CURSOR_KEY).toBe(value);
  });

  it('generates a dev AUTH_SECRET that every service reading it gets', () => {
    const secret = find(objects, 'Secret', 'logserver-auth');
    expect(Buffer.from(secret?.data.AUTH_SECRET, 'base64').toString().length).toBeGreaterThan(32);
  });
});

describe('the prod overlay', () => {
  const objects = overlays.prod;

  it('pulls every image from the registry placeholder', () => {
    for (const name of SERVICES)
      expect(find(objects, 'Deployment', name)?.spec.template.spec.containers[0].image).toMatch(
        new RegExp(`^123456789012\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/logserver/${name}:`),
      );
  });

  it('uses AWS SQS and reads MongoDB Atlas from a Secret it does not ship', () => {
    expect(find(objects, 'ConfigMap', 'logserver-config')?.data.SQS_URL).toMatch(/^https:\/\/sqs\.[a-z0-9-]+\.amazonaws\.com$/);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const env = find(objects, 'Deployment', 'log')?.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'MONGODB_URI', valueFrom: { secretKeyRef: { name: 'logserver-mongodb', key: 'MONGODB_URI' } } });
    // The cursor key comes from the logserver-auth Secret made outside Git (docs/deployment.md).
    expect(env).toContainEqual({
      name: 'STREAM_CURSOR_KEY',
      valueFrom: { secretKeyRef: { name: 'logserver-auth', key: 'STREAM_CURSOR_KEY', optional: true } },
    });
    expect(objects.find((o) => o.kind === 'StatefulSet')).toBeUndefined();
  });

  it('scales the log service with an HPA and the worker on queue depth with KEDA', () => {
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'log');
    expect(hpa?.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'log' });
    const scaled = find(objects, 'ScaledObject', 'log-worker');
    expect(scaled?.spec.scaleTargetRef.name).toBe('log-worker');
    expect(scaled?.spec.triggers[0]).toMatchObject({
      type: 'aws-sqs-queue',
      metadata: { queueURL: expect.stringContaining('/log-queue') },
    });
    expect(find(objects, 'TriggerAuthentication', scaled?.spec.triggers[0].authenticationRef.name)).toBeDefined();
  });
});

describe('the benchmark Job (make benchmark-cluster)', () => {
  const [job] = parseAllDocuments(readFileSync(`${REPO_ROOT}k8s/benchmark/job.yaml`, 'utf8')).map((d) => d.toJS() as KubeObject);

  it('validates, and sends the Python system’s scenario through the ingress controller with autocannon', async () => {
    await expect(validateKubeObject(job as KubeObject)).resolves.toBeUndefined();
    const container = job?.spec.template.spec.containers[0];
    const script: string = container.args[0];
    expect(script).toMatch(/autocannon@[\d.]+ --amount 10000 --connections 1000 /);
    expect(script).toContain('--method POST');
    const target = container.env.find((env: { name: string }) => env.name === 'TARGET').value;
    expect(new URL(target).hostname).toBe('ingress-nginx-controller.ingress-nginx.svc.cluster.local');
    expect(new URL(target).pathname).toBe('/api/v1/logs');
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
  });
});
