import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExportError } from '../../../main/core/export/errors.js';
import {
  createOllamaModel,
  executableCandidates,
  findExecutable,
  ollamaNameProblem,
} from '../../../main/core/export/ollama-create.js';
import { tempDir } from '../../helpers/cli.js';
import { writeFakeOllama } from '../../helpers/fake-ollama.js';

const posix = process.platform !== 'win32';

describe('Ollama model names', () => {
  it('accepts lowercase names with an optional tag', () => {
    for (const name of ['support-bot', 'my.model_2', 'bot:v2', 'qwen3:0.6b', 'a', '7b'])
      expect(ollamaNameProblem(name), name).toBeNull();
  });

  it('refuses what Ollama or a shell would misread, saying what is allowed', () => {
    for (const name of ['My-Model', '-bot', 'bot:', 'bot:V2', 'a b', 'team/bot', '', 'bot;rm -rf ~', 'a:b:c'])
      expect(ollamaNameProblem(name), name).toMatch(/lowercase letters, digits.*:tag/);
  });
});

describe('finding a program on PATH', () => {
  it.runIf(posix)('takes the first executable file in PATH order, skipping others', () => {
    const root = tempDir('tunesmith-path-');
    const [plain, folder, real] = ['plain', 'folder', 'real'].map((d) => path.join(root, d)) as [
      string,
      string,
      string,
    ];
    for (const d of [plain, folder, real]) mkdirSync(d);
    writeFileSync(path.join(plain, 'ollama'), 'not executable');
    mkdirSync(path.join(folder, 'ollama'));
    writeFileSync(path.join(real, 'ollama'), '#!/bin/sh\n');
    chmodSync(path.join(real, 'ollama'), 0o755);
    const env = { PATH: ['', plain, folder, real].join(':') };
    expect(findExecutable('ollama', env)).toBe(path.join(real, 'ollama'));
    expect(findExecutable('ollama', { PATH: [plain, folder].join(':') })).toBeNull();
    expect(findExecutable('ollama', {})).toBeNull();
  });

  it('on Windows reads Path and PATHEXT in any case, unquotes entries, and tries each extension', () => {
    const env = { Path: String.raw`C:\Tools;"C:\Program Files\Ollama";;`, PathExt: '.EXE;.CMD' };
    expect(executableCandidates('ollama', env, 'win32')).toEqual([
      String.raw`C:\Tools\ollama.EXE`,
      String.raw`C:\Tools\ollama.CMD`,
      String.raw`C:\Program Files\Ollama\ollama.EXE`,
      String.raw`C:\Program Files\Ollama\ollama.CMD`,
    ]);
    expect(executableCandidates('ollama.exe', { PATH: String.raw`C:\bin` }, 'win32')[0]).toBe(
      String.raw`C:\bin\ollama.exe`,
    );
    // Without PATHEXT, Windows' own default list.
    expect(executableCandidates('ollama', { PATH: String.raw`C:\bin` }, 'win32')).toHaveLength(4);
  });
});

/** An export folder with a Modelfile. */
function exportFolder(): string {
  const dir = tempDir('tunesmith-ollama-export-');
  writeFileSync(path.join(dir, 'Modelfile'), 'FROM ./base.gguf\n');
  return dir;
}

async function failure(promise: Promise<unknown>): Promise<ExportError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExportError);
  return err as ExportError;
}

describe.runIf(posix)('createOllamaModel', () => {
  it('runs `ollama create NAME -f Modelfile` in the folder and streams its lines as text', async () => {
    const fake = writeFakeOllama('ok');
    const dir = exportFolder();
    const lines: string[] = [];
    const result = await createOllamaModel({
      dir,
      name: 'support-bot:v2',
      onLine: (l) => lines.push(l),
      env: { ...process.env, PATH: fake.path },
    });
    expect(fake.calls()).toEqual([{ cwd: dir, args: ['create', 'support-bot:v2', '-f', 'Modelfile'] }]);
    // Spinner redraws collapse to one line; terminal escapes are gone.
    expect(lines.filter((l) => l !== 'success')).toEqual([
      'gathering model components',
      'copying file sha256:0123abcd 100%',
      'writing manifest',
    ]);
    expect(lines).toContain('success');
    expect(result).toEqual({ ok: true, name: 'support-bot:v2', output: lines.join('\n') });
  });

  it("fails with Ollama's last words and says to start Ollama when its server is not running", async () => {
    const fake = writeFakeOllama('not-running');
    const err = await failure(
      createOllamaModel({ dir: exportFolder(), name: 'bot', env: { ...process.env, PATH: fake.path } }),
    );
    expect(err.code).toBe('ollama-create-failed');
    expect(err.message).toMatch(/exit code 1[\s\S]*could not connect to ollama app/);
    expect(err.hint).toMatch(/Ollama app running.*`ollama serve`/);
  });

  it('says where to get Ollama and what to run later when it is not installed', async () => {
    const dir = exportFolder();
    const err = await failure(createOllamaModel({ dir, name: 'bot', env: { PATH: tempDir() } }));
    expect(err.code).toBe('ollama-not-found');
    expect(err.hint).toContain('ollama.com');
    expect(err.hint).toContain(`\`ollama create bot -f Modelfile\` in ${dir}`);
  });

  it('refuses a bad name or a folder without a Modelfile before starting Ollama', async () => {
    const fake = writeFakeOllama('ok');
    const env = { ...process.env, PATH: fake.path };
    expect((await failure(createOllamaModel({ dir: exportFolder(), name: 'Bad Name', env }))).code).toBe(
      'bad-ollama-name',
    );
    expect((await failure(createOllamaModel({ dir: tempDir(), name: 'bot', env }))).code).toBe(
      'no-modelfile',
    );
    expect(fake.calls()).toEqual([]);
  });
});
