#!/usr/bin/env node
// The built CLI (make build); in the repository, `pnpm logserver …` runs the TypeScript source.
import '../dist/cli/main.js';
