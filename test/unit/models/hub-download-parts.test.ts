// The pieces of a Hub download that need no server: the Hub's two hashes computed by streaming,
// the state file, progress snapshots, where a token comes from, and how failures are explained.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HubApiError } from '@huggingface/hub';
import { describe, expect, it } from 'vitest';
import {
  type DownloadState,
  readDownloadState,
  removeDownloadState,
  STATE_FILE,
  writeDownloadState,
} from '../../../main/core/models/hub/download-state.js';
import { gitBlobSha1, gitBlobSha1OfFile, sha256OfFile } from '../../../main/core/models/hub/file-hash.js';
import { hubProblem } from '../../../main/core/models/hub/hub-fetch.js';
import { type ProgressSnapshot, ProgressTracker } from '../../../main/core/models/hub/progress.js';
import { resolveHubEndpoint, resolveHubToken } from '../../../main/core/models/hub/token.js';
import { tempDir } from '../../helpers/cli.js';

describe('hashes', () => {
  it('computes git blob ids as git does', () => {
    // `git hash-object` of an empty file and of "hello\n"
    expect(gitBlobSha1(new Uint8Array())).toBe('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
    expect(gitBlobSha1(Buffer.from('hello\n'))).toBe('ce013625030ba8dba906f756967f9e9ca394464a');
  });

  it('streams a multi-chunk file to the same hashes as hashing it whole', async () => {
    const file = path.join(tempDir(), 'weights.bin');
    const content = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31 + 7) & 0xff;
    writeFileSync(file, content);
    expect(await sha256OfFile(file)).toBe(createHash('sha256').update(content).digest('hex'));
    expect(await gitBlobSha1OfFile(file)).toBe(gitBlobSha1(content));
  });
});

describe('download state file', () => {
  const state: DownloadState = {
    version: 1,
    repoId: 'acme/tiny',
    revision: 'main',
    commit: 'a'.repeat(40),
    files: [{ path: 'config.json', size: 10, hash: { kind: 'git-sha1', value: 'b'.repeat(40) }, done: true }],
    startedAt: 1,
    updatedAt: 1,
  };

  it('round-trips, and is gone once removed', async () => {
    const dir = tempDir();
    await writeDownloadState(dir, state);
    expect(await readDownloadState(dir)).toMatchObject({ ...state, updatedAt: expect.any(Number) });
    await removeDownloadState(dir);
    expect(await readDownloadState(dir)).toBeNull();
  });

  it('treats a damaged state file as no state (the download starts over, verified)', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, STATE_FILE), '{"version":1,"commit":"x","files":[{"path":1}]}');
    expect(await readDownloadState(dir)).toBeNull();
    writeFileSync(path.join(dir, STATE_FILE), '{not json');
    expect(await readDownloadState(dir)).toBeNull();
  });
});

describe('progress snapshots', () => {
  it('sends at most one per 100 ms, with speed and time left, and always the last', () => {
    let now = 0;
    const seen: ProgressSnapshot[] = [];
    const tracker = new ProgressTracker(
      'acme/tiny',
      10_000_000,
      0,
      (s) => seen.push(s),
      () => now,
    );
    tracker.startFile('model.safetensors', 10_000_000, 0);
    for (let i = 0; i < 100; i++) {
      now += 10; // 100 chunks of 50 kB over one second: 5 MB/s
      tracker.add(50_000);
    }
    expect(seen.length).toBeLessThanOrEqual(11);
    const last = seen.at(-1)!;
    expect(last.speed).toBeGreaterThan(4_500_000);
    expect(last.speed).toBeLessThan(5_500_000);
    expect(last.etaSeconds).toBe(Math.ceil((10_000_000 - last.bytesDone) / last.speed));
    tracker.finish();
    expect(seen.at(-1)).toMatchObject({ done: true, bytesDone: 10_000_000, etaSeconds: 0 });
  });

  it('counts files finished in an earlier attempt as done', () => {
    const tracker = new ProgressTracker('acme/tiny', 100, 60, undefined);
    expect(tracker.snapshot()).toMatchObject({ bytesDone: 60, bytesTotal: 100, etaSeconds: null });
  });
});

describe('access token and endpoint', () => {
  it('takes --token-env first, then HF_TOKEN, then the token file of `hf auth login`', () => {
    const hfHome = tempDir();
    writeFileSync(path.join(hfHome, 'token'), 'hf_fromfile\n');
    const env = { HF_HOME: hfHome, HF_TOKEN: 'hf_fromenv', MINE: 'hf_mine' };
    expect(resolveHubToken({ tokenEnv: 'MINE', env })).toEqual({ token: 'hf_mine', source: '$MINE' });
    expect(resolveHubToken({ env })).toEqual({ token: 'hf_fromenv', source: '$HF_TOKEN' });
    expect(resolveHubToken({ env: { HF_HOME: hfHome } })).toEqual({
      token: 'hf_fromfile',
      source: path.join(hfHome, 'token'),
    });
    const home = tempDir();
    mkdirSync(path.join(home, '.cache', 'huggingface'), { recursive: true });
    writeFileSync(path.join(home, '.cache', 'huggingface', 'token'), 'hf_default');
    expect(resolveHubToken({ env: {}, home }).token).toBe('hf_default');
    expect(resolveHubToken({ env: {}, home: tempDir() })).toEqual({ token: undefined, source: null });
  });

  it('refuses --token-env naming an empty variable, without guessing another token', () => {
    expect(() => resolveHubToken({ tokenEnv: 'NOPE', env: { HF_TOKEN: 'hf_x' } })).toThrow(
      /environment variable NOPE is empty or not set/,
    );
  });

  it('takes the endpoint from --endpoint, then HF_ENDPOINT, and checks it is a URL', () => {
    expect(resolveHubEndpoint(undefined, {})).toBe('https://huggingface.co');
    expect(resolveHubEndpoint(undefined, { HF_ENDPOINT: 'https://hf-mirror.com/' })).toBe(
      'https://hf-mirror.com',
    );
    expect(resolveHubEndpoint('http://127.0.0.1:9000', { HF_ENDPOINT: 'https://x' })).toBe(
      'http://127.0.0.1:9000',
    );
    expect(() => resolveHubEndpoint('hub.local', {})).toThrow(/not a URL/);
  });
});

describe('what a failure says', () => {
  const ctx = { repoId: 'acme/tiny', what: 'list the files', endpoint: 'https://hub.test', hasToken: false };
  const apiError = (status: number) => new HubApiError('https://hub.test/x', status);

  it('no connection → the offline message', () => {
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
    });
    const problem = hubProblem(refused, ctx);
    expect(problem.code).toBe('hub-unreachable');
    expect(problem.message).toBe(
      'Cannot reach the Hugging Face Hub at https://hub.test: connect ECONNREFUSED 127.0.0.1:9. Local models still work; to add one you already have, use `tunesmith models add DIR`.',
    );
  });

  it('401, 403 and 404 say what to do', () => {
    expect(hubProblem(apiError(401), ctx).message).toMatch(/needs an access token .*--token-env VAR/);
    expect(hubProblem(apiError(401), { ...ctx, hasToken: true }).message).toMatch(/refused the access token/);
    expect(hubProblem(apiError(403), ctx)).toMatchObject({ code: 'hub-forbidden' });
    expect(hubProblem(apiError(403), ctx).message).toMatch(
      /Accept the model's licence at https:\/\/hub\.test\/acme\/tiny/,
    );
    expect(hubProblem(apiError(404), ctx)).toMatchObject({ code: 'hub-not-found' });
  });

  it('a failure while bytes flow is an interruption to resume; ENOSPC is a full disk', () => {
    const file = { path: 'model.safetensors', done: 1_500_000, size: 4_000_000 };
    const dropped = Object.assign(new TypeError('terminated'), {
      cause: { code: 'UND_ERR_SOCKET', message: 'other side closed' },
    });
    const problem = hubProblem(dropped, { ...ctx, file });
    expect(problem.code).toBe('download-interrupted');
    expect(problem.message).toMatch(
      /stopped at 1\.5 MB of 4\.0 MB: terminated: other side closed\. .*run the same command again to resume/,
    );
    const full = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    expect(hubProblem(full, { ...ctx, file }).code).toBe('disk-full');
  });

  it('a cancelled download says it can be resumed', () => {
    const controller = new AbortController();
    controller.abort();
    const problem = hubProblem(new Error('aborted'), { ...ctx, signal: controller.signal });
    expect(problem.code).toBe('download-cancelled');
    expect(problem.message).toMatch(/run the same download again to resume/);
  });
});
