// `npm run test:gpu`: the GPU parity harness — every CUDA op against its CPU twin, a full train step and
// a 50-step loss curve on tiny models (native/tests/gpu/, runner tunesmith_gpu_tests).
// Builds the engine if needed (scripts/build-native.mjs, which skips an up-to-date build), then runs the
// runner and passes on its output and exit status. Two ways to skip, each one line, exit status 0:
//   skipped: CUDA not compiled in (<reason from build-info.json>)   — this build has no CUDA backend
//   skipped: no CUDA device (<reason>)                              — printed by the runner itself
// Flags: --build-dir <dir> (default native/build; built with the same env as build-native.mjs),
// --no-build (use the build as it is), and test names to run only those.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const dirArg = args.indexOf('--build-dir');
const buildDir = path.resolve(dirArg >= 0 ? args[dirArg + 1] : path.join(root, 'native', 'build'));
const noBuild = args.includes('--no-build');
const names = args.filter((a, i) => !a.startsWith('--') && !(dirArg >= 0 && i === dirArg + 1));
const runner = path.join(
  buildDir,
  'Release',
  process.platform === 'win32' ? 'tunesmith_gpu_tests.exe' : 'tunesmith_gpu_tests',
);

if (!noBuild) {
  const build = spawnSync(
    process.execPath,
    [path.join(root, 'scripts', 'build-native.mjs'), '--out', buildDir],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (build.status !== 0) {
    console.error(`test:gpu: the native build failed (exit status ${build.status}); see the output above`);
    process.exit(1);
  }
}

let info;
try {
  info = JSON.parse(fs.readFileSync(path.join(buildDir, 'build-info.json'), 'utf8'));
} catch {
  console.error(
    `test:gpu: ${path.join(buildDir, 'build-info.json')} is missing: run node scripts/build-native.mjs`,
  );
  process.exit(1);
}
if (!info.cudaCompiled) {
  console.log(
    `skipped: CUDA not compiled in (${info.cudaReason || 'no reason recorded in build-info.json'})`,
  );
  process.exit(0);
}
if (!fs.existsSync(runner)) {
  console.error(`test:gpu: CUDA is compiled in but ${runner} is missing: rebuild with npm run build:native`);
  process.exit(1);
}

const run = spawnSync(runner, names, { stdio: 'inherit' });
if (run.error) {
  console.error(`test:gpu: could not run ${runner}: ${run.error.message}`);
  process.exit(1);
}
if (run.signal) {
  console.error(`test:gpu: ${path.basename(runner)} was killed by ${run.signal}`);
  process.exit(1);
}
process.exit(run.status ?? 1);
