#!/usr/bin/env node
// Prints vitest's totals as the plain line CI reads ("N passed, N failed"), from its JSON report.
import { existsSync, readFileSync } from 'node:fs';

const path = process.argv[2] ?? '.vitest-report.json';
if (!existsSync(path)) {
  console.log('tests: 0 passed, 0 failed');
  console.error(`no vitest report at ${path}: the test run did not finish`);
  process.exit(1);
}
const report = JSON.parse(readFileSync(path, 'utf8'));
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
