// Builds the native engine with cmake-js into native/build/Release/tunesmith_native.node, and the C++
// test runner beside it (tunesmith_native_tests, see native/tests/), and writes
// native/build/build-info.json ({ cudaCompiled, cudaReason, cudaArchs, nvccVersion, ... }).
// Runs as the package's `install` script, and as `npm run build:native` (--force: clean rebuild).
// Skips the build when the .node and the test runner are newer than every source and were built with the
// same options.
// Downloads nothing: native/package.json declares Node-API, so cmake-js takes node-api-headers.
// Env: TUNESMITH_CUDA=OFF builds CPU only; TUNESMITH_CUDA_ARCHS="90" or "89,90" (CI) overrides the
// default 80-real;86-real;89-real;90. Flag --out <dir> builds elsewhere (tests build a CPU-only copy).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const args = process.argv.slice(2);
const force = args.includes('--force');
const outArg = args.indexOf('--out');
const outDir = path.resolve(outArg >= 0 ? args[outArg + 1] : path.join(nativeDir, 'build'));
const addonPath = path.join(outDir, 'Release', 'tunesmith_native.node');
const testsPath = path.join(
  outDir,
  'Release',
  process.platform === 'win32' ? 'tunesmith_native_tests.exe' : 'tunesmith_native_tests',
);
const infoPath = path.join(outDir, 'build-info.json');
const shown = (p) => {
  const relative = path.relative(process.cwd(), p);
  return relative && !relative.startsWith('..') ? relative : p;
};
const say = (line) => console.log(`[build-native] ${line}`);

const readJson = (file) => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
};

// What the build is asked for; a change in any of these means a reconfigure.
const request = {
  cuda: /^(off|0|false|no)$/i.test(process.env.TUNESMITH_CUDA ?? '') ? 'OFF' : 'ON',
  cudaArchs: process.env.TUNESMITH_CUDA_ARCHS || 'default',
  engineVersion: readJson(path.join(root, 'package.json'))?.version,
};

function newestSourceMtime() {
  let newest = fs.statSync(fileURLToPath(import.meta.url)).mtimeMs;
  const visit = (p) => {
    const stat = fs.statSync(p);
    newest = Math.max(newest, stat.mtimeMs);
    if (stat.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
  };
  for (const name of ['CMakeLists.txt', 'package.json', 'include', 'src', 'tests']) {
    if (fs.existsSync(path.join(nativeDir, name))) visit(path.join(nativeDir, name));
  }
  return newest;
}

function describe(info) {
  if (info.cudaCompiled)
    return `CUDA compiled in (nvcc ${info.nvccVersion}, archs ${info.cudaArchs.join(',')})`;
  return `CPU only, CUDA not compiled in (${info.cudaReason})`;
}

function fail(why) {
  console.error(`[build-native] FAILED: ${why}
  The native engine needs CMake >= 3.20 and a C++17 compiler:
    Debian/Ubuntu: sudo apt-get install cmake g++      Fedora: sudo dnf install cmake gcc-c++
    macOS: xcode-select --install && brew install cmake
    Windows: Visual Studio Build Tools ("Desktop development with C++") and CMake
  GPU training also needs the CUDA toolkit (nvcc); TUNESMITH_CUDA=OFF builds the CPU backend only.`);
  process.exit(1);
}

const previous = readJson(infoPath);
const sameRequest = JSON.stringify(previous?.request) === JSON.stringify(request);
if (!force && sameRequest && fs.existsSync(addonPath) && fs.existsSync(testsPath)) {
  const oldest = Math.min(fs.statSync(addonPath).mtimeMs, fs.statSync(testsPath).mtimeMs);
  if (oldest >= newestSourceMtime()) {
    say(`${shown(addonPath)} is up to date; ${describe(previous)}`);
    process.exit(0);
  }
}

const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
if (!fs.existsSync(cmakeJs)) fail('node_modules/cmake-js is missing: run `npm install` first');
if (spawnSync('cmake', ['--version'], { stdio: 'ignore' }).error) fail('cmake was not found on PATH');

const cmakeJsRun = (command) => {
  const result = spawnSync(
    process.execPath,
    [
      cmakeJs,
      command,
      '--directory',
      nativeDir,
      '--out',
      outDir,
      '--parallel',
      String(os.availableParallelism()),
      `--CDTUNESMITH_CUDA=${request.cuda}`,
      `--CDTUNESMITH_CUDA_ARCHS=${request.cudaArchs}`,
    ],
    { stdio: 'inherit' },
  );
  if (result.error) fail(`could not run cmake-js: ${result.error.message}`);
  if (result.status !== 0) fail(`cmake-js ${command} exited with ${result.status} (see the output above)`);
};

const started = performance.now();
fs.rmSync(infoPath, { force: true });
if (force) {
  cmakeJsRun('rebuild'); // clean + configure + build
} else {
  // `build` configures only when there is no cache, so new options need an explicit configure.
  if (fs.existsSync(path.join(outDir, 'CMakeCache.txt')) && !sameRequest) cmakeJsRun('configure');
  cmakeJsRun('build');
}
if (!fs.existsSync(addonPath)) fail(`the build finished but ${shown(addonPath)} is missing`);
if (!fs.existsSync(testsPath)) fail(`the build finished but ${shown(testsPath)} is missing`);
// A change that only one of the two targets compiles (the binding, the tests) leaves the other's file
// untouched by the linker; both are current now, so mark them so and keep the skip check simple.
const builtAt = new Date();
for (const file of [addonPath, testsPath]) fs.utimesSync(file, builtAt, builtAt);

const decided = readJson(path.join(outDir, 'cmake-info.json'));
if (!decided) fail(`the build finished but ${shown(path.join(outDir, 'cmake-info.json'))} is missing`);
const info = {
  ...decided,
  nvccVersion: decided.nvccVersion || null,
  request,
  builtAt: new Date().toISOString(),
};
fs.writeFileSync(infoPath, `${JSON.stringify(info, null, 2)}\n`);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
say(`built ${shown(addonPath)} in ${seconds} s; ${describe(info)}`);
