// The engine's C++ tests (native/tests/*.cpp), one Vitest test each, so `npm test` counts them.
// The runner (native/build/Release/tunesmith_native_tests, built by scripts/build-native.mjs) lists its
// tests at collection time and runs all of them once, in one process, before the first test reports.
// A C++ failure fails its Vitest test with the runner's detail lines; a crash fails every test the
// runner never reached, with the tail of its output.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
// TUNESMITH_NATIVE_TESTS names another runner (e.g. a sanitizer build of native/tests).
const RUNNER =
  process.env.TUNESMITH_NATIVE_TESTS ??
  path.join(
    ROOT,
    'native',
    'build',
    'Release',
    process.platform === 'win32' ? 'tunesmith_native_tests.exe' : 'tunesmith_native_tests',
  );

interface CppResult {
  status: 'ok' | 'skip' | 'fail';
  detail: string;
}

/** Parses the runner's output: "ok NAME (N ms)", "skip NAME: why", "FAIL NAME (N ms)" + indented lines. */
function parseRunnerOutput(stdout: string): Map<string, CppResult> {
  const results = new Map<string, CppResult>();
  let pending: string[] = []; // lines a test printed before its result line
  let current: CppResult | undefined;
  for (const line of stdout.split('\n')) {
    const ok = /^ok (\S+) \(/.exec(line);
    const skip = /^skip (\S+): (.*)$/.exec(line);
    const fail = /^FAIL (\S+)/.exec(line);
    if (ok?.[1]) {
      results.set(ok[1], { status: 'ok', detail: pending.join('\n') });
      current = undefined;
      pending = [];
    } else if (skip?.[1]) {
      results.set(skip[1], { status: 'skip', detail: skip[2] ?? '' });
      current = undefined;
      pending = [];
    } else if (fail?.[1]) {
      current = { status: 'fail', detail: pending.join('\n') };
      results.set(fail[1], current);
      pending = [];
    } else if (current && line.startsWith('  ')) {
      current.detail += `${current.detail ? '\n' : ''}${line.slice(2)}`;
    } else if (line.trim() !== '' && !/^\d+ (passed|skipped)/.test(line)) {
      current = undefined;
      pending.push(line);
    }
  }
  return results;
}

function listTests(): string[] {
  if (!existsSync(RUNNER)) return [];
  const out = execFileSync(RUNNER, ['--list'], { encoding: 'utf8', timeout: 30_000 });
  return out.split('\n').filter((name) => name.trim() !== '');
}

describe('native C++ tests', () => {
  const names = listTests();

  if (names.length === 0) {
    it('the C++ test runner is built and has tests', () => {
      expect.fail(
        `${RUNNER} is missing or lists no tests: run \`node scripts/build-native.mjs\` (needs CMake and a C++ compiler)`,
      );
    });
    return;
  }

  let results = new Map<string, CppResult>();
  let runnerTail = '';
  beforeAll(() => {
    const run = spawnSync(RUNNER, [], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
    results = parseRunnerOutput(run.stdout ?? '');
    const ending = run.signal ? `killed by ${run.signal}` : `exit status ${run.status}`;
    runnerTail = `${(run.stdout ?? '').slice(-3000)}\n${(run.stderr ?? '').slice(-2000)}\n(${ending})`;
  }, 600_000);

  for (const name of names) {
    it(name, (ctx) => {
      const result = results.get(name);
      if (!result) expect.fail(`the C++ runner stopped before reporting ${name}:\n${runnerTail}`);
      if (result.status === 'skip') {
        ctx.skip(result.detail);
        return;
      }
      if (result.status === 'fail') expect.fail(`${name} failed in C++:\n${result.detail}`);
    });
  }
});
