import { describe, expect, it } from 'vitest';
import { TenantConnections } from '../../src/stream/tenant-connections.js';

describe('TenantConnections', () => {
  it('limits each tenant on its own and gives a slot back once, however often it is released', () => {
    const connections = new TenantConnections(2);
    const a1 = connections.acquire('a');
    const a2 = connections.acquire('a');
    expect(a1).toBeDefined();
    expect(a2).toBeDefined();
    expect(connections.acquire('a')).toBeUndefined();
    expect(connections.acquire('b')).toBeDefined();
    expect(connections.total()).toBe(3);

    a1?.();
    a1?.();
    expect(connections.count('a')).toBe(1);
    expect(connections.acquire('a')).toBeDefined();
    expect(connections.acquire('a')).toBeUndefined();
  });
});
