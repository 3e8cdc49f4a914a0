// `tunesmith models list|add|download|remove` through the BUILT CLI (run `npx tsc -p
// tsconfig.node.json` first), downloading from a local server that imitates the Hugging Face Hub.
// The CLI runs as a child process without waiting synchronously, so the server in this process
// keeps answering.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTinyModel } from '../../main/core/models/tiny.js';
import { CLI, tempDir } from '../helpers/cli.js';
import { type MockHub, repoFromFolder, startMockHub } from '../helpers/mock-hub.js';

const TOKEN = 'hf_CliGatedToken9876543210';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onStderr` sees stderr as it arrives and may signal the child. */
function tunesmith(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, HF_TOKEN: '', HF_ENDPOINT: '', HF_HOME: tempDir('tunesmith-hf-'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    onStderr?.(stderr, child);
  });
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

let hub: MockHub;
let tinyDir: string;

beforeAll(async () => {
  const tiny = await createTinyModel({
    arch: 'mistral',
    outDir: path.join(tempDir('tunesmith-hub-src-'), 'tiny'),
    hidden: 32,
    heads: 4,
    kvHeads: 2,
    ffn: 64,
    dtype: 'bf16',
  });
  tinyDir = tiny.dir;
  hub = await startMockHub([
    repoFromFolder('acme/tiny', tinyDir),
    repoFromFolder('gated/tiny', tinyDir, { gated: true, token: TOKEN }),
  ]);
});

afterAll(async () => {
  await hub?.close();
});

beforeEach(() => {
  hub.requests.length = 0;
  hub.faults.drop.clear();
  hub.faults.corrupt.clear();
  hub.faults.slow.clear();
});

const weightTransfers = () =>
  hub.requests.filter((r) => r.url.includes('name=model.safetensors') && r.range !== 'bytes=0-0');

describe('tunesmith models download', () => {
  it('downloads a model the library then lists as ready, with fit for this machine', async () => {
    const home = tempDir();
    const run = await tunesmith(['models', 'download', 'acme/tiny', '--endpoint', hub.url, '--home', home]);
    expect(run.stderr).toMatch(/^ {2}model\.safetensors {2}\S+ \S+ {2}done$/m); // a line per file
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/acme\/tiny is ready: model 1/);
    expect(run.stdout).toMatch(/chat template {2}the model's own/);

    const list = await tunesmith(['models', 'list', '--json', '--home', home]);
    expect(list.status).toBe(0);
    const { models, catalogue, machine } = JSON.parse(list.stdout);
    expect(models).toHaveLength(1);
    expect(models[0]).toMatchObject({ status: 'ready', usable: true, repoId: 'acme/tiny' });
    expect(catalogue.length).toBeGreaterThanOrEqual(9);
    for (const entry of catalogue) {
      // fits is the estimate against what this machine has: the GPU's free memory, or free RAM
      const available = machine.gpu ? machine.gpu.freeBytes : machine.ramFreeBytes;
      expect(entry.fit.fits).toBe(entry.fit.memory[0].bytes <= available);
      expect(entry.fit.verdict).toMatch(machine.gpu ? /GPU|fit/i : /CPU/);
    }
    const text = await tunesmith(['models', 'list', '--home', home]);
    expect(text.stdout).toMatch(/Recommended base models — /);
    expect(text.stdout).toMatch(/teknium\/OpenHermes-2\.5-Mistral-7B .*reference recipe/);
  });

  it('stops on Ctrl+C leaving a resumable state, and the same command resumes', async () => {
    const home = tempDir();
    hub.faults.slow.set('model.safetensors', { chunkBytes: 256 * 1024, delayMs: 100 });
    let signalled = false;
    const first = await tunesmith(
      ['models', 'download', 'acme/tiny', '--endpoint', hub.url, '--home', home],
      {},
      (stderr, child) => {
        if (!signalled && /tokenizer_config\.json .* done/.test(stderr)) {
          signalled = true;
          setTimeout(() => child.kill('SIGINT'), 300);
        }
      },
    );
    expect(first.stderr).toMatch(/Stopped\. The download of acme\/tiny was cancelled/);
    expect(first.status).toBe(130);
    const dir = path.join(home, 'models', 'acme--tiny');
    const partSize = statSync(path.join(dir, 'model.safetensors.part')).size;
    expect(partSize).toBeGreaterThan(0);

    const list = await tunesmith(['models', 'list', '--home', home]);
    expect(list.stdout).toMatch(/incomplete/);
    expect(list.stdout).toMatch(/run the same download command again to resume/);

    hub.faults.slow.clear();
    hub.requests.length = 0;
    const second = await tunesmith([
      'models',
      'download',
      'acme/tiny',
      '--endpoint',
      hub.url,
      '--home',
      home,
    ]);
    expect(second.status).toBe(0);
    expect(second.stderr).toMatch(/tokenizer\.json .* already here/);
    expect(weightTransfers().map((r) => r.range)).toEqual([
      `bytes=${partSize}-${statSync(path.join(tinyDir, 'model.safetensors')).size - 1}`,
    ]);
    expect(readdirSync(dir).sort()).toEqual(readdirSync(tinyDir).sort());
  });

  it('says how to resume when the connection keeps dropping', async () => {
    const home = tempDir();
    hub.faults.drop.set('model.safetensors', { afterBytes: 300_000, times: 3 });
    const run = await tunesmith(['models', 'download', 'acme/tiny', '--endpoint', hub.url, '--home', home]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/The download of model\.safetensors \(acme\/tiny\) stopped at/);
    expect(run.stderr).toMatch(/run the same command again to resume/);
    const again = await tunesmith(['models', 'download', 'acme/tiny', '--endpoint', hub.url, '--home', home]);
    expect(again.status).toBe(0);
  });

  it('uses the token from --token-env for a gated model and never prints or stores it', async () => {
    const home = tempDir();
    const without = await tunesmith([
      'models',
      'download',
      'gated/tiny',
      '--endpoint',
      hub.url,
      '--home',
      home,
    ]);
    expect(without.status).toBe(1);
    expect(without.stderr).toMatch(/401/);
    expect(without.stderr).toMatch(/--token-env VAR/);

    const unset = await tunesmith([
      'models',
      'download',
      'gated/tiny',
      '--token-env',
      'NOPE',
      '--home',
      home,
    ]);
    expect(unset.status).toBe(1);
    expect(unset.stderr).toMatch(/environment variable NOPE is empty or not set/);

    const run = await tunesmith(
      ['models', 'download', 'gated/tiny', '--endpoint', hub.url, '--home', home, '--token-env', 'MY_HF'],
      { MY_HF: TOKEN },
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/with the access token from \$MY_HF/);
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
    for (const file of ['tunesmith.db', 'tunesmith.db-wal']) {
      const db = path.join(home, file);
      if (existsSync(db)) expect(readFileSync(db).includes(Buffer.from(TOKEN))).toBe(false);
    }
  });

  it('fails fast with a clear message without a network', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const started = Date.now();
    const run = await tunesmith(['models', 'download', 'acme/tiny', '--home', tempDir()], {
      HF_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/Cannot reach the Hugging Face Hub at http:\/\/127\.0\.0\.1:\d+/);
    expect(run.stderr).toMatch(/tunesmith models add DIR/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('rejects a missing model id with a usage error', async () => {
    const run = await tunesmith(['models', 'download', '--home', tempDir()]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/Give exactly one model id/);
  });
});

describe('tunesmith models add / remove', () => {
  it('adds a folder, lists it, and removes it without touching its files', async () => {
    const home = tempDir();
    const add = await tunesmith(['models', 'add', tinyDir, '--home', home]);
    expect(add.status).toBe(0);
    expect(add.stdout).toMatch(/Added model 1: tiny \(mistral/);
    expect(add.stdout).toMatch(/chat template {2}the model's own/);
    const again = await tunesmith(['models', 'add', tinyDir, '--home', home]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/in the library already/);

    const remove = await tunesmith(['models', 'remove', '1', '--delete-files', '--home', home, '--json']);
    expect(remove.status).toBe(0);
    expect(JSON.parse(remove.stdout)).toMatchObject({ deletedFiles: false, model: { id: 1 } });
    expect(existsSync(path.join(tinyDir, 'model.safetensors'))).toBe(true);
    const missing = await tunesmith(['models', 'remove', '1', '--home', home]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no model with id 1/);
  });

  it('refuses a folder that is not a model', async () => {
    const run = await tunesmith(['models', 'add', tempDir(), '--home', tempDir()]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/config\.json/);
  });
});
