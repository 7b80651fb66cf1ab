import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/config/load-config.js';
import { authConfig, listenConfig, requireAuthSecret } from '../../src/config/schemas.js';

const Schema = requireAuthSecret(z.object({ ...listenConfig(8081), ...authConfig }));

describe('loadConfig', () => {
  it('applies the design defaults', () => {
    const config = loadConfig(Schema, { AUTH_SECRET: 's' });
    expect(config).toMatchObject({
      PORT: 8081,
      HOST: '0.0.0.0',
      LOG_LEVEL: 'info',
      AUTH_AUDIENCE: 'logserver',
      AUTH_ISSUER: 'issuer',
      AUTH_ADMIN_TENANT: 'system',
      AUTH_KEY_SCHEME: 'hmac-sha256',
      AUTH_REQUIRE_EXP: true,
    });
  });

  it('reports every problem at once', () => {
    let message = '';
    try {
      loadConfig(Schema, { PORT: 'eighty', LOG_LEVEL: 'loud', AUTH_KEY_SCHEME: 'rot13', AUTH_REQUIRE_EXP: 'maybe' });
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of ['PORT', 'LOG_LEVEL', 'AUTH_KEY_SCHEME', 'AUTH_REQUIRE_EXP', 'AUTH_SECRET']) expect(message).toContain(name);
  });

  it('reads booleans the way deploy tools write them', () => {
    expect(loadConfig(Schema, { AUTH_SECRET: 's', AUTH_REQUIRE_EXP: 'false' }).AUTH_REQUIRE_EXP).toBe(false);
    expect(loadConfig(Schema, { AUTH_SECRET: 's', AUTH_REQUIRE_EXP: '0' }).AUTH_REQUIRE_EXP).toBe(false);
    expect(loadConfig(Schema, { AUTH_SECRET: 's', AUTH_REQUIRE_EXP: '' }).AUTH_REQUIRE_EXP).toBe(true);
  });
});

describe('LISTEN_BACKLOG', () => {
  it('defaults to 4096 (Node listens with 511 otherwise) and takes a positive integer', () => {
    expect(loadConfig(Schema, { AUTH_SECRET: 's' }).LISTEN_BACKLOG).toBe(4096);
    expect(loadConfig(Schema, { AUTH_SECRET: 's', LISTEN_BACKLOG: '1024' }).LISTEN_BACKLOG).toBe(1024);
    for (const bad of ['0', '-1', 'many', '1.5', '70000'])
      expect(() => loadConfig(Schema, { AUTH_SECRET: 's', LISTEN_BACKLOG: bad }), bad).toThrow(/LISTEN_BACKLOG/);
  });
});
