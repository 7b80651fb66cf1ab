import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../gateway/topology.js';

// No Docker engine runs here, so the image itself is built by people (make compose, Tilt) and
// these checks keep the Dockerfile in step with the workspace it builds.
const dockerfile = readFileSync(`${REPO_ROOT}Dockerfile`, 'utf8');
const workspacePackages = ['packages', 'services'].flatMap((dir) => readdirSync(`${REPO_ROOT}${dir}`).map((name) => `${dir}/${name}`));

describe('Dockerfile', () => {
  it('copies every workspace manifest before installing, so that the lockfile install sees the whole workspace', () => {
    const copied = [...dockerfile.matchAll(/^COPY (\S+)\/package\.json /gm)].map(([, dir]) => dir);
    expect(copied.sort()).toEqual(workspacePackages.sort());
  });

  it('installs production dependencies only, runs as a non-root user on Node 20, and checks /healthz with node', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-[\w.-]+$/m);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile --prod --filter "@logserver\/\$\{SERVICE\}\.\.\."/);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n\s+CMD \["node", "-e", ".*\/healthz/m);
    expect(runtime).toContain('CMD ["node", "dist/main.js"]');
  });
});
