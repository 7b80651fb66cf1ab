#!/usr/bin/env node
// Prints vitest's totals as the plain line CI reads ("N passed, N failed"), summed over its JSON reports.
import { existsSync, readFileSync } from 'node:fs';

const paths = process.argv.length > 2 ? process.argv.slice(2) : ['.vitest-report.json'];
const missing = paths.filter((path) => !existsSync(path));
if (missing.length > 0) {
  console.log('tests: 0 passed, 0 failed');
  console.error(`no vitest report at ${missing.join(', ')}: the test run did not finish`);
  process.exit(1);
}
let passed = 0;
let failed = 0;
let skipped = 0;
for (const path of paths) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
