#!/usr/bin/env node
// `npm test`: every check the project has, in order, then one closing line `N passed, N failed`.
// Checks (lint, typecheck, build) count as one test each; Vitest suites count their own tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function step(name, command, args, env = {}) {
  const started = Date.now();
  process.stdout.write(`\n=== ${name}: ${command} ${args.join(' ')}\n`);
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  process.stdout.write(`=== ${name}: ${ok ? 'ok' : 'FAILED'} (${seconds} s)\n`);
  return ok;
}

function check(name, command, args) {
  if (step(name, command, args)) totals.passed += 1;
  else {
    totals.failed += 1;
    failures.push(name);
  }
}

check('lint', 'npx', ['biome', 'check', '.']);
check('typecheck', 'npm', ['run', '--silent', 'typecheck']);
check('build', 'npm', ['run', '--silent', 'build']);
check('native build', 'node', ['scripts/build-native.mjs']);

const reportDir = mkdtempSync(join(tmpdir(), 'tunesmith-vitest-'));
const reportFile = join(reportDir, 'report.json');
const vitestOk = step('vitest', 'npx', [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${reportFile}`,
]);
try {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
  for (const file of report.testResults) {
    for (const test of file.assertionResults) {
      if (test.status === 'failed') failures.push(test.fullName);
    }
    // A file that failed to load has no assertions but still failed.
    if (file.status === 'failed' && file.assertionResults.length === 0) {
      totals.failed += 1;
      failures.push(`${file.name}: ${String(file.message).split('\n')[0]}`);
    }
  }
} catch (err) {
  totals.failed += 1;
  failures.push(`vitest produced no report (${err.message})`);
}
if (!vitestOk && failures.length === 0) {
  totals.failed += 1;
  failures.push('vitest exited with an error');
}
rmSync(reportDir, { recursive: true, force: true });

if (failures.length > 0) {
  process.stdout.write(`\nFailed:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
}
process.stdout.write(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exitCode = totals.failed > 0 ? 1 : 0;
