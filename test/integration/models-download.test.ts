// The model library's Hub download path against a local server that imitates the Hub (the real one
// cannot be reached from the test machines): a full download of a tiny model, interruption and
// resume with a Range request, a corrupted file rejected and fetched again, a gated model with and
// without a token, a full disk, no network, cancel; then add/remove of local folders.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dispatch } from '../../main/api/dispatch.js';
import { EventBus } from '../../main/api/events.js';
import { createHandlers } from '../../main/api/handlers.js';
import { loadNative } from '../../main/core/engine/native.js';
import { writeSafetensors } from '../../main/core/formats/safetensors.js';
import type { MachineResources } from '../../main/core/models/catalogue.js';
import { parseModelConfig } from '../../main/core/models/config.js';
import { STATE_FILE } from '../../main/core/models/hub/download-state.js';
import type { ProgressSnapshot } from '../../main/core/models/hub/progress.js';
import { inspectModelFolder } from '../../main/core/models/inspect.js';
import type { LibraryOptions } from '../../main/core/models/library.js';
import { expectedTensors } from '../../main/core/models/tensor-names.js';
import { createTinyModel } from '../../main/core/models/tiny.js';
import { type CoreServices, openCoreServices } from '../../main/core/services.js';
import { tempDir } from '../helpers/cli.js';
import { type MockHub, type MockRepo, repoFromFolder, startMockHub } from '../helpers/mock-hub.js';

const TOKEN = 'hf_GatedTestToken0123456789';
const MACHINE: MachineResources = {
  gpu: { index: 0, name: 'Test GPU', freeBytes: 8 * 1024 ** 3, totalBytes: 8 * 1024 ** 3 },
  ramFreeBytes: 16 * 1024 ** 3,
  ramTotalBytes: 32 * 1024 ** 3,
};

let hub: MockHub;
let tinyDir: string;
let services: CoreServices | undefined;

beforeAll(async () => {
  const root = tempDir('tunesmith-hub-src-');
  const tiny = await createTinyModel({
    arch: 'mistral', // the smallest bundled tokenizer: keeps the suite fast
    outDir: path.join(root, 'tiny'),
    hidden: 32,
    heads: 4,
    kvHeads: 2,
    ffn: 64,
    dtype: 'bf16',
  });
  tinyDir = tiny.dir;
  // Extra files a real repository has, which a download must leave on the Hub.
  const extras = new Map([
    ['README.md', Buffer.from('# tiny\n')],
    ['pytorch_model.bin', Buffer.alloc(4096, 7)],
    ['.gitattributes', Buffer.from('*.safetensors filter=lfs\n')],
  ]);
  const acme = repoFromFolder('acme/tiny', tinyDir);
  for (const [name, content] of extras) acme.files.set(name, content);
  hub = await startMockHub([
    acme,
    await shardedRepo(tinyDir),
    repoFromFolder('gated/tiny', tinyDir, { gated: true, token: TOKEN }),
    {
      id: 'acme/no-weights',
      files: new Map([['config.json', readFileSync(path.join(tinyDir, 'config.json'))]]),
    },
  ]);
});

afterAll(async () => {
  await hub?.close();
});

beforeEach(() => {
  services?.close();
  services = undefined;
  hub.requests.length = 0;
  hub.faults.drop.clear();
  hub.faults.corrupt.clear();
  hub.faults.slow.clear();
});

function open(hubOptions: LibraryOptions['hub'] = {}, home = tempDir('tunesmith-home-')): CoreServices {
  services?.close();
  services = openCoreServices(home, { machine: () => MACHINE, env: {}, hub: { retries: 0, ...hubOptions } });
  return services;
}

function modelDir(s: CoreServices, repoId: string): string {
  return path.join(s.paths.models, repoId.replace('/', '--'));
}

/**
 * The tiny model as a sharded repository (two shards and an index, zero weights), plus a
 * consolidated.safetensors beside them as Mistral's repositories have, which must not be fetched.
 */
async function shardedRepo(from: string): Promise<MockRepo> {
  const dir = tempDir('tunesmith-sharded-');
  for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    writeFileSync(path.join(dir, name), readFileSync(path.join(from, name)));
  }
  const config = parseModelConfig(JSON.parse(readFileSync(path.join(from, 'config.json'), 'utf8')));
  const tensors = expectedTensors(config).map((t) => ({
    name: t.name,
    dtype: 'BF16' as const,
    shape: t.shape,
    data: () => new Uint8Array(t.shape.reduce((n, d) => n * d, 2)),
  }));
  const half = Math.ceil(tensors.length / 2);
  const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const weightMap: Record<string, string> = {};
  for (const [i, part] of [tensors.slice(0, half), tensors.slice(half)].entries()) {
    await writeSafetensors(path.join(dir, shards[i]!), part, { format: 'pt' });
    for (const t of part) weightMap[t.name] = shards[i]!;
  }
  writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  await writeSafetensors(path.join(dir, 'consolidated.safetensors'), tensors.slice(0, 1));
  return repoFromFolder('acme/sharded', dir);
}

/** The address of a port nobody listens on: connections are refused, as without a network. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const transfers = (file: string) =>
  hub.requests
    .filter((r) => r.url.includes(`name=${file}`) || r.url.endsWith(`/${file}`))
    .filter((r) => r.range !== 'bytes=0-0');

describe('models download from a Hub', () => {
  it('downloads only the files training needs, verified, into a folder the engine can load', async () => {
    const s = open();
    const snapshots: ProgressSnapshot[] = [];
    const started = Date.now();
    const model = await s.models.download('acme/tiny', {
      endpoint: hub.url,
      onProgress: (p) => snapshots.push(p),
    });
    const seconds = (Date.now() - started) / 1000;

    expect(model).toMatchObject({ status: 'ready', usable: true, source: 'download', repoId: 'acme/tiny' });
    expect(model.chatTemplate).toBe('model');
    expect(model.fit?.verdict).toMatch(/Test GPU/);
    const dir = modelDir(s, 'acme/tiny');
    expect(readdirSync(dir).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    for (const name of readdirSync(dir)) {
      expect(readFileSync(path.join(dir, name)).equals(readFileSync(path.join(tinyDir, name)))).toBe(true);
    }
    const inspection = await inspectModelFolder(dir);
    expect(inspection.ok).toBe(true);
    expect(model.sizeBytes).toBe(inspection.sizeBytes);

    // The engine loads the downloaded folder (CPU, NF4) and computes a finite loss with it.
    const session = await loadNative().loadModel({
      modelDir: dir,
      quant: 'nf4',
      lora: { r: 4, alpha: 8 },
      maxSeqLen: 16,
      threads: 1,
    });
    try {
      expect(session.info()).toMatchObject({ arch: 'mistral', hiddenSize: 32, layers: 2 });
      const { loss, trainedTokens } = await session.evalLoss({
        tokens: Int32Array.from([1, 100, 200, 300, 400]),
        trained: Uint8Array.from([0, 1, 1, 1, 1]),
        seqLens: Int32Array.from([5]),
      });
      expect(trainedTokens).toBe(4);
      expect(Number.isFinite(loss) && loss > 0).toBe(true);
    } finally {
      session.dispose();
    }

    // Progress: snapshots with speed and ETA, never more than 10 a second, the last one complete.
    expect(snapshots.length).toBeGreaterThan(0);
    expect(snapshots.length).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 2);
    expect(snapshots.at(-1)).toMatchObject({ done: true, etaSeconds: 0 });
    expect(snapshots.at(-1)!.bytesDone).toBe(snapshots.at(-1)!.bytesTotal);

    // The same command again: already there, no network.
    const before = hub.requests.length;
    const again = await s.models.download('acme/tiny', { endpoint: hub.url });
    expect(again.id).toBe(model.id);
    expect(hub.requests.length).toBe(before);
  });

  it('resumes an interrupted transfer with a Range request from the partial size', async () => {
    const s = open();
    hub.faults.drop.set('model.safetensors', { afterBytes: 1_000_000, times: 1 });
    const first = s.models.download('acme/tiny', { endpoint: hub.url });
    await expect(first).rejects.toMatchObject({ code: 'download-interrupted' });
    await expect(first).rejects.toThrow(/run the same command again to resume/);

    const dir = modelDir(s, 'acme/tiny');
    expect(existsSync(path.join(dir, STATE_FILE))).toBe(true);
    const partSize = statSync(path.join(dir, 'model.safetensors.part')).size;
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThanOrEqual(1_000_000);
    const [listed] = await s.models.list();
    expect(listed).toMatchObject({ status: 'incomplete', usable: false });
    expect(listed!.note).toMatch(/run the same download command again to resume/);
    expect(existsSync(path.join(dir, 'model.safetensors'))).toBe(false);

    hub.requests.length = 0;
    const model = await s.models.download('acme/tiny', { endpoint: hub.url });
    expect(model.status).toBe('ready');
    const ranged = transfers('model.safetensors').map((r) => r.range);
    expect(ranged).toContain(
      `bytes=${partSize}-${statSync(path.join(tinyDir, 'model.safetensors')).size - 1}`,
    );
    expect(transfers('tokenizer.json')).toEqual([]); // finished files are not fetched again
    expect(
      readFileSync(path.join(dir, 'model.safetensors')).equals(
        readFileSync(path.join(tinyDir, 'model.safetensors')),
      ),
    ).toBe(true);
    expect(existsSync(path.join(dir, STATE_FILE))).toBe(false);
  });

  it('fetches the shards an index names, and nothing else', async () => {
    const s = open();
    const model = await s.models.download('acme/sharded', { endpoint: hub.url });
    expect(model.status).toBe('ready');
    expect(readdirSync(model.path).sort()).toEqual([
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(hub.requests.some((r) => r.url.includes('consolidated'))).toBe(false);
    const inspection = await inspectModelFolder(model.path);
    expect(inspection.weights).toMatchObject({ kind: 'sharded' });
    expect(inspection.ok).toBe(true);
  });

  it('retries a dropped connection within one run, resuming from where it stopped', async () => {
    const s = open({ retries: 2 });
    hub.faults.drop.set('model.safetensors', { afterBytes: 500_000, times: 1 });
    const model = await s.models.download('acme/tiny', { endpoint: hub.url });
    expect(model.status).toBe('ready');
    expect(
      transfers('model.safetensors').some((r) => r.range?.startsWith('bytes=') && r.range !== 'bytes=0-'),
    ).toBe(true);
  });

  it('rejects a corrupted file (hash mismatch) and fetches it again', async () => {
    const s = open();
    hub.faults.corrupt.set('model.safetensors', { times: 1 });
    hub.faults.corrupt.set('tokenizer_config.json', { times: 1 }); // a git file: blob SHA-1
    const model = await s.models.download('acme/tiny', { endpoint: hub.url });
    expect(model.status).toBe('ready');
    expect(transfers('model.safetensors')).toHaveLength(2);
    expect(transfers('tokenizer_config.json')).toHaveLength(2);
    const dir = modelDir(s, 'acme/tiny');
    expect(
      readFileSync(path.join(dir, 'model.safetensors')).equals(
        readFileSync(path.join(tinyDir, 'model.safetensors')),
      ),
    ).toBe(true);
  });

  it('gives up on a file that is corrupted every time, and never marks the model usable', async () => {
    const s = open();
    hub.faults.corrupt.set('model.safetensors', { times: 5 });
    await expect(s.models.download('acme/tiny', { endpoint: hub.url })).rejects.toMatchObject({
      code: 'hash-mismatch',
    });
    const [listed] = await s.models.list();
    expect(listed).toMatchObject({ status: 'incomplete', usable: false });
    expect(existsSync(path.join(modelDir(s, 'acme/tiny'), 'model.safetensors'))).toBe(false);
  });

  it('asks for a token for a gated model (401) and uses one without storing or logging it', async () => {
    const s = open();
    const without = s.models.download('gated/tiny', { endpoint: hub.url });
    await expect(without).rejects.toMatchObject({ code: 'hub-auth-required' });
    await expect(without).rejects.toThrow(/--token-env/);
    expect(await s.models.list()).toEqual([]); // nothing half-made in the library
    await expect(s.models.download('gated/tiny', { endpoint: hub.url, token: 'hf_wrong' })).rejects.toThrow(
      /refused the access token/,
    );

    const model = await s.models.download('gated/tiny', { endpoint: hub.url, token: TOKEN });
    expect(model.status).toBe('ready');
    expect(hub.requests.some((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    s.close();
    services = undefined;
    for (const file of readdirSync(s.paths.root, { recursive: true, withFileTypes: true })) {
      if (!file.isFile()) continue;
      const bytes = readFileSync(path.join(file.parentPath, file.name));
      expect(bytes.includes(Buffer.from(TOKEN)), `${file.name} holds the token`).toBe(false);
    }
  });

  it('checks the free space first, and keeps what was downloaded when the disk fills up', async () => {
    const home = tempDir('tunesmith-home-');
    let s = open({ freeBytes: async () => 10_000 }, home);
    const full = s.models.download('acme/tiny', { endpoint: hub.url });
    await expect(full).rejects.toMatchObject({ code: 'disk-full' });
    await expect(full).rejects.toThrow(/Not enough disk space/);
    expect(transfers('model.safetensors')).toEqual([]);

    // ENOSPC in the middle of the weights: the partial file and the state stay for a resume.
    let written = 0;
    s = open(
      {
        openPart: async (file) => {
          const { open: openFile } = await import('node:fs/promises');
          const handle = await openFile(file, 'a');
          return {
            write: async (chunk) => {
              if (file.endsWith('model.safetensors.part') && written + chunk.byteLength > 2_000_000) {
                throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
              }
              written += file.endsWith('model.safetensors.part') ? chunk.byteLength : 0;
              await handle.write(chunk);
            },
            close: () => handle.close(),
          };
        },
      },
      home,
    );
    const midway = s.models.download('acme/tiny', { endpoint: hub.url });
    await expect(midway).rejects.toMatchObject({ code: 'disk-full' });
    await expect(midway).rejects.toThrow(/what was downloaded is kept/);
    const dir = modelDir(s, 'acme/tiny');
    const partSize = statSync(path.join(dir, 'model.safetensors.part')).size;
    expect(partSize).toBe(written);
    expect((await s.models.list())[0]).toMatchObject({ status: 'incomplete' });

    hub.requests.length = 0;
    s = open({}, home);
    expect((await s.models.download('acme/tiny', { endpoint: hub.url })).status).toBe('ready');
    expect(transfers('model.safetensors').map((r) => r.range?.split('-')[0])).toContain(`bytes=${partSize}`);
  });

  it('fails fast and clearly without a network, and local models still work', async () => {
    const s = open();
    const added = await s.models.add(tinyDir);
    const endpoint = await closedPort();
    const started = Date.now();
    const offline = s.models.download('acme/tiny', { endpoint });
    await expect(offline).rejects.toMatchObject({ code: 'hub-unreachable' });
    await expect(offline).rejects.toThrow(
      /Cannot reach the Hugging Face Hub at http:\/\/127\.0\.0\.1:\d+: .*Local models still work; to add one you already have, use `tunesmith models add DIR`/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    const listed = await s.models.list();
    expect(listed.map((m) => [m.id, m.usable])).toEqual([[added.model.id, true]]);
  });

  it('gives up waiting on a Hub that never answers, and on a transfer that stalls', async () => {
    const silent = createServer(() => {}); // accepts connections, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const s = open({ connectTimeoutMs: 300, stallTimeoutMs: 300 });
      const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      await expect(s.models.download('acme/tiny', { endpoint })).rejects.toThrow(
        /Cannot reach the Hugging Face Hub at .*no answer in 0\.3 s/,
      );
      hub.faults.slow.set('model.safetensors', { chunkBytes: 64 * 1024, delayMs: 2000 });
      await expect(s.models.download('acme/tiny', { endpoint: hub.url })).rejects.toThrow(
        /stopped at .*no data for 0\.3 s\. .*run the same command again to resume/,
      );
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('cancels cleanly and resumes', async () => {
    const s = open({
      openPart: async (file) => {
        const { open: openFile } = await import('node:fs/promises');
        const handle = await openFile(file, 'a');
        return {
          write: async (chunk) => {
            await handle.write(chunk);
            if (file.endsWith('model.safetensors.part')) s.models.cancelDownload('acme/tiny');
          },
          close: () => handle.close(),
        };
      },
    });
    const cancelled = s.models.download('acme/tiny', { endpoint: hub.url });
    await expect(cancelled).rejects.toMatchObject({ code: 'download-cancelled' });
    await expect(cancelled).rejects.toThrow(
      /was cancelled during model\.safetensors\. .*run the same download again to resume/,
    );
    expect((await s.models.list())[0]).toMatchObject({ status: 'incomplete' });
    const s2 = open({}, s.paths.root);
    expect((await s2.models.download('acme/tiny', { endpoint: hub.url })).status).toBe('ready');
  });

  it('explains a repository it cannot use before fetching weights', async () => {
    const s = open();
    await expect(s.models.download('acme/no-weights', { endpoint: hub.url })).rejects.toMatchObject({
      code: 'no-safetensors',
    });
    await expect(s.models.download('acme/nothing-here', { endpoint: hub.url })).rejects.toMatchObject({
      code: 'hub-auth-required',
    });
    // A file name from the Hub never leads outside the model's folder.
    hub.repos.set('evil/tiny', {
      id: 'evil/tiny',
      files: new Map([
        ['config.json', readFileSync(path.join(tinyDir, 'config.json'))],
        ['../escape.safetensors', Buffer.from('x')],
        [
          'model.safetensors.index.json',
          Buffer.from(
            JSON.stringify({ weight_map: { 'model.embed_tokens.weight': '../escape.safetensors' } }),
          ),
        ],
      ]),
    });
    await expect(s.models.download('evil/tiny', { endpoint: hub.url })).rejects.toThrow(
      /names \.\.\/escape\.safetensors, which the repository does not have/,
    );
    expect(existsSync(path.join(s.paths.models, 'escape.safetensors'))).toBe(false);
    await expect(s.models.download('not a repo', { endpoint: hub.url })).rejects.toMatchObject({
      code: 'bad-repo-id',
    });
  });
});

describe('the models.* commands', () => {
  it('download with progress events, list, catalogue, cancel and errors as data', async () => {
    const s = open();
    const bus = new EventBus();
    const progress: ProgressSnapshot[] = [];
    bus.subscribe((name, payload) => {
      if (name === 'models.downloadProgress') progress.push(payload as ProgressSnapshot);
    });
    const handlers = createHandlers({ services: s, bus });
    const downloaded = await dispatch(handlers, 'models.download', {
      repoId: 'acme/tiny',
      endpoint: hub.url,
    });
    expect(downloaded).toMatchObject({ ok: true, value: { status: 'ready', repoId: 'acme/tiny' } });
    expect(progress.at(-1)).toMatchObject({ repoId: 'acme/tiny', done: true });
    expect(await dispatch(handlers, 'models.list', {})).toMatchObject({
      ok: true,
      value: [{ status: 'ready' }],
    });
    const catalogue = await dispatch(handlers, 'models.catalogue', {});
    expect(catalogue.ok && (catalogue.value as { fit: unknown }[]).every((c) => c.fit)).toBe(true);
    expect(await dispatch(handlers, 'models.cancelDownload', { repoId: 'acme/tiny' })).toEqual({
      ok: true,
      value: { cancelled: false },
    });
    expect(await dispatch(handlers, 'models.download', { repoId: 'no slash' })).toMatchObject({
      ok: false,
      error: { code: 'invalid-input' },
    });
    expect(
      await dispatch(handlers, 'models.download', { repoId: 'gated/tiny', endpoint: hub.url }),
    ).toMatchObject({
      ok: false,
      error: { code: 'hub-auth-required', hint: expect.stringMatching(/token/) },
    });
  });
});

describe('local models', () => {
  it('adds a valid folder, says which template will be used, and refuses duplicates', async () => {
    const s = open();
    const { model } = await s.models.add(tinyDir);
    expect(model).toMatchObject({ source: 'local', status: 'ready', usable: true, chatTemplate: 'model' });
    await expect(s.models.add(tinyDir)).rejects.toMatchObject({ code: 'already-added' });
  });

  it('refuses a broken folder and names the file', async () => {
    const s = open();
    const broken = path.join(tempDir(), 'broken');
    await cp(tinyDir, broken, { recursive: true });
    rmSync(path.join(broken, 'tokenizer.json'));
    const attempt = s.models.add(broken);
    await expect(attempt).rejects.toMatchObject({ code: 'model-not-usable' });
    await expect(attempt).rejects.toThrow(/tokenizer\.json/);
    expect(await s.models.list()).toEqual([]);
  });

  it('uses ChatML for a model without a chat template', async () => {
    const s = open();
    const plain = path.join(tempDir(), 'plain');
    await cp(tinyDir, plain, { recursive: true });
    const configFile = path.join(plain, 'tokenizer_config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    delete config.chat_template;
    writeFileSync(configFile, JSON.stringify(config));
    const { model, warnings } = await s.models.add(plain);
    expect(model.chatTemplate).toBe('chatml');
    expect(warnings.join(' ')).toMatch(/ChatML/);
  });

  it('removes rows; deletes files only of downloaded models and only when asked', async () => {
    const s = open();
    const added = (await s.models.add(tinyDir)).model;
    const downloaded = await s.models.download('acme/tiny', { endpoint: hub.url });
    await expect(s.models.remove(added.id, { deleteFiles: true })).resolves.toMatchObject({
      deletedFiles: false,
    });
    expect(existsSync(tinyDir)).toBe(true);
    await expect(s.models.remove(downloaded.id, { deleteFiles: true })).resolves.toMatchObject({
      deletedFiles: true,
    });
    expect(existsSync(downloaded.path)).toBe(false);
    expect(await s.models.list()).toEqual([]);
    await expect(s.models.remove(999)).rejects.toMatchObject({ code: 'model-not-found' });
  });
});
