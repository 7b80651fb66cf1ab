import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AUTH_NODE_OPTIONS } from '../../scripts/deploy/runtime.js';

/** How large V8's young generation grows in a fresh Node under allocation, with these NODE_OPTIONS. */
function youngGenerationBytes(nodeOptions: string): number {
  const script = `const kept = []; for (let i = 0; i < 3e6; i++) kept.push({ i });
    console.log(require('node:v8').getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size);`;
  const run = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, NODE_OPTIONS: nodeOptions }, encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return Number(run.stdout.trim());
}

describe("the forward-auth's NODE_OPTIONS (scripts/deploy/runtime.ts)", () => {
  it('are accepted in NODE_OPTIONS and bound the young generation to two 2 MiB semi-spaces', () => {
    const bounded = youngGenerationBytes(AUTH_NODE_OPTIONS);
    expect(bounded).toBeLessThanOrEqual(4 * 1024 * 1024);
    // Without them the same allocation grows it well past that (Node 20: 16 MiB semi-spaces).
    expect(youngGenerationBytes('')).toBeGreaterThan(bounded * 2);
  });
});
