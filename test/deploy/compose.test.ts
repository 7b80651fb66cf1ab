import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { composeValidator } from '../../scripts/deploy/compose-schema.js';
import { COMPOSE_GATEWAY } from '../../scripts/deploy/gateway-routes.js';
import { AUTH_NODE_OPTIONS } from '../../scripts/deploy/runtime.js';
import { streamConfig } from '../../services/log/src/config.js';
import { REPO_ROOT } from '../gateway/topology.js';

const text = readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: the compose file is read field by field
const compose: any = parse(text, { merge: true });

describe('docker-compose.yml', () => {
  it('validates against the Compose Specification schema', () => {
    const validate = composeValidator();
    expect(validate(compose)).toEqual([]);
    // The validator does reject what the spec does not allow.
    expect(validate({ ...compose, services: { ...compose.services, log: { ...compose.services.log, bogus: 1 } } })).not.toEqual([]);
  });

  it('runs MongoDB as a replica set, ElasticMQ, the four services and the gateway', () => {
    const always = Object.entries(compose.services).filter(([, service]) => !(service as { profiles?: string[] }).profiles);
    expect(always.map(([name]) => name).sort()).toEqual(['auth', 'elasticmq', 'gateway', 'log', 'log-worker', 'mongodb', 'tenant']);
    expect(compose.services.mongodb.command).toEqual(['--replSet', 'rs0', '--bind_ip_all']);
    expect(compose.services.log.environment.MONGODB_URI).toBe('mongodb://mongodb:27017/?replicaSet=rs0');
    for (const name of ['auth', 'log', 'log-worker', 'tenant']) {
      expect(compose.services[name].build.args.SERVICE).toBe(name);
      expect(compose.services[name].read_only).toBe(true);
    }
  });

  it("runs the forward-auth with the runtime's small young generation, keeping every shared setting", () => {
    expect(compose.services.auth.environment.NODE_OPTIONS).toBe(AUTH_NODE_OPTIONS);
    expect(compose.services.auth.environment.GATEWAY_SECRET).toBe(compose.services.tenant.environment.GATEWAY_SECRET);
    for (const name of ['log', 'log-worker', 'tenant'])
      expect(Object.keys(compose.services[name].environment)).not.toContain('NODE_OPTIONS');
  });

  it('gives the integrity signing key to the worker only, keeping every shared setting', () => {
    expect(Object.keys(compose.services['log-worker'].environment)).toContain('INTEGRITY_SIGNING_KEY');
    expect(Object.keys(compose.services.log.environment)).toContain('INTEGRITY_PUBLIC_KEY');
    for (const name of ['auth', 'log', 'tenant']) {
      expect(Object.keys(compose.services[name].environment)).not.toContain('INTEGRITY_SIGNING_KEY');
    }
    for (const name of ['log', 'log-worker']) expect(compose.services[name].environment.MONGODB_URI).toContain('replicaSet=rs0');
  });

  it('gives the log service a STREAM_CURSOR_KEY that its config accepts, and no other service', () => {
    const value = /^\$\{STREAM_CURSOR_KEY:-(.+)\}$/.exec(compose.services.log.environment.STREAM_CURSOR_KEY)?.[1];
    expect(z.object({ STREAM_CURSOR_KEY: streamConfig.STREAM_CURSOR_KEY }).parse({ STREAM_CURSOR_KEY: value }).STREAM_CURSOR_KEY).toBe(
      value,
    );
    for (const name of ['auth', 'log-worker', 'tenant'])
      expect(Object.keys(compose.services[name].environment)).not.toContain('STREAM_CURSOR_KEY');
  });

  it('runs ClickHouse and Cube in the analytics profile, reachable only from the worker, the log service and Cube', () => {
    expect(compose.services.clickhouse.profiles).toEqual(['analytics']);
    expect(compose.services.cube.profiles).toEqual(['analytics']);
    expect(compose.services.clickhouse.volumes).toContain('clickhouse-data:/var/lib/clickhouse');
    const onAnalytics = Object.entries(compose.services)
      .filter(([, service]) => ((service as { networks?: string[] }).networks ?? []).includes('analytics'))
      .map(([name]) => name)
      .sort();
    expect(onAnalytics).toEqual(['clickhouse', 'cube', 'log', 'log-worker']);
    expect(compose.services.clickhouse.networks).toEqual(['analytics']);
    // Off unless asked for: the profile alone does not switch the services over.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own interpolation, not a template
    expect(compose.services.log.environment.ANALYTICS).toBe('${ANALYTICS:-off}');
  });

  it('publishes only the gateway, with the rendered config, and keeps the data stores off its network', () => {
    // The analytics profile's ClickHouse and Cube publish on loopback only (docs/analytics.md).
    const published = Object.entries(compose.services).filter(
      ([, service]) => (service as { ports?: unknown; profiles?: string[] }).ports && !(service as { profiles?: string[] }).profiles,
    );
    expect(published.map(([name]) => name)).toEqual(['gateway']);
    for (const name of ['clickhouse', 'cube']) {
      for (const port of compose.services[name].ports) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
    expect(compose.services.gateway.ports).toEqual([`${COMPOSE_GATEWAY.listen}:8080`]);
    expect(compose.services.gateway.volumes).toContain('./deploy/nginx/gateway.conf:/etc/nginx/nginx.conf:ro');
    expect(compose.services.gateway.networks).toEqual(['edge']);
    for (const store of ['mongodb', 'elasticmq']) expect(compose.services[store].networks).toEqual(['data']);
    for (const [upstream, url] of Object.entries(COMPOSE_GATEWAY.upstreams)) {
      expect(new URL(url).hostname).toBe(upstream);
      expect(compose.services[upstream].networks).toContain('edge');
    }
  });

  it('keeps ElasticMQ’s messages on a volume, so an acknowledged event survives its restart', () => {
    const elasticmq = compose.services.elasticmq;
    expect(elasticmq.image).toMatch(/^softwaremill\/elasticmq:/);
    expect(elasticmq.volumes).toEqual(
      expect.arrayContaining([
        './deploy/elasticmq/compose.conf:/opt/elasticmq.conf:ro',
        './k8s/overlays/dev/elasticmq.conf:/opt/elasticmq-queues.conf:ro',
        'elasticmq-data:/data',
      ]),
    );
    expect(Object.keys(compose.volumes)).toContain('elasticmq-data');
    const conf = readFileSync(`${REPO_ROOT}deploy/elasticmq/compose.conf`, 'utf8');
    expect(conf).toContain('include file("/opt/elasticmq-queues.conf")');
    expect(conf).toMatch(/messages-storage \{\s*enabled = true\s*uri = "jdbc:h2:\/data\//);
    expect(conf).toMatch(/queues-storage \{\s*enabled = true\s*path = "\/data\//);
    // The queues themselves are defined once, in the dev overlay's file.
    expect(readFileSync(`${REPO_ROOT}k8s/overlays/dev/elasticmq.conf`, 'utf8')).toMatch(/log-queue \{/);
  });
});
