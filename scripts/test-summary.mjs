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
const brokenFiles = [];
for (const path of paths) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A file whose beforeAll (or import) failed reports its tests as skipped, not failed: count each
  // of them as failed, so the line never says "0 failed" for a run that failed.
  for (const file of report.testResults ?? []) {
    if (file.status !== 'failed' || file.assertionResults.some((test) => test.status === 'failed')) continue;
    const notRun = file.assertionResults.filter((test) => test.status !== 'passed').length || 1;
    failed += notRun;
    skipped -= Math.min(skipped, file.assertionResults.filter((test) => test.status !== 'passed').length);
    brokenFiles.push(`${file.name}: ${String(file.message ?? '').split('\n')[0]}`);
  }
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
for (const line of brokenFiles) console.error(`failed before its tests ran: ${line}`);
