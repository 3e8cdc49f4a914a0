// `tunesmith data check` run as a person runs it (the BUILT CLI: `npx tsc -p tsconfig.node.json` first).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, tempDir } from '../helpers/cli.js';
import { makeTokenizerFolder } from '../helpers/tokenizer-folder.js';

const SAMPLE = path.join(REPO_ROOT, 'resources', 'samples', 'reference-sample.csv');

let qwen3: string;
let llama2: string;
beforeAll(() => {
  qwen3 = makeTokenizerFolder('qwen3');
  llama2 = makeTokenizerFolder('llama2');
});

/** The [[…]] spans of the plain-text --show output (after its heading, which shows the brackets). */
const trainedSpans = (text: string) =>
  [...text.slice(text.indexOf('\n', text.indexOf('inside [[ ]]'))).matchAll(/\[\[([\s\S]*?)\]\]/g)].map(
    (m) => m[1] ?? '',
  );

describe('tunesmith data check', () => {
  it('the reference sample with the Qwen3 tokenizer: the audit, <|im_end|> inside every trained span, exit 0', () => {
    const { status, stdout, stderr } = runCli([
      'data',
      'check',
      '--model',
      qwen3,
      '--data',
      SAMPLE,
      '--show',
      '100',
    ]);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const examples = Number(/Examples: (\d+) checked, (\d+) to train/.exec(stdout)?.[2]);
    expect(examples).toBeGreaterThan(10);
    expect(stdout).toMatch(/Tokens: +[\d,]+ in total, [\d,]+ trained/);
    expect(stdout).toMatch(/← max length 4,096/);
    const spans = trainedSpans(stdout);
    expect(spans).toHaveLength(examples);
    for (const span of spans) expect(span.endsWith('<|im_end|>')).toBe(true);
    expect(stdout).toMatch(/<\|im_start\|>assistant\n\[\[/);
    expect(stdout).toMatch(/Ready to train/);
  });

  it('a file with an empty reply exits 1 and names the example and its place in the file', () => {
    const file = path.join(tempDir(), 'bad.csv');
    writeFileSync(file, 'system,question,chosen\nBe kind.,Hi,Hello!\nBe kind.,Say nothing,\n');
    const { status, stdout } = runCli([
      'data',
      'check',
      '--model',
      qwen3,
      '--data',
      file,
      '--example',
      '1,2',
    ]);
    expect(status).toBe(1);
    expect(stdout).toMatch(/✖ Example 2 \(line 3\) has an empty assistant reply/);
    expect(stdout).toMatch(/\[\[Hello!<\|im_end\|>\]\]/);
    expect(stdout).toMatch(/── Example 2 \(line 3\): not trained/);
    expect(stdout).toMatch(/Not ready/);
  });

  it('ChatML on a vocabulary without <|im_end|> stops and says to use the model’s template or another model', () => {
    const { status, stderr } = runCli(['data', 'check', '--model', llama2, '--data', SAMPLE]);
    expect(status).toBe(1);
    expect(stderr).toMatch(/no such token/);
    expect(stderr).toMatch(/model's own template/);
    const json = runCli(['data', 'check', '--model', llama2, '--data', SAMPLE, '--json']);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'end-token-missing' } });
  });

  it('checks a stored dataset by id, as JSON', () => {
    const home = tempDir();
    expect(runCli(['data', 'import', SAMPLE, '--home', home]).status).toBe(0);
    const { status, stdout } = runCli([
      'data',
      'check',
      '--model',
      llama2,
      '--dataset',
      '1',
      '--template',
      'mistral',
      '--max-len',
      '64',
      '--too-long',
      'exclude',
      '--json',
      '--home',
      home,
    ]);
    const result = JSON.parse(stdout);
    expect(status).toBe(result.ok ? 0 : 1);
    expect(result.report.template).toBe('mistral');
    expect(result.report.endOfTurn).toBe('</s>');
    expect(result.report.kept + result.report.excluded + result.report.blockingCount).toBe(
      result.report.examples,
    );
    expect(result.report.excluded).toBeGreaterThan(0);
    expect(
      result.report.issues.every(
        (i: { code: string }) => i.code === 'excluded-too-long' || i.code === 'duplicate',
      ),
    ).toBe(true);
  });

  it('usage errors exit 2', () => {
    expect(runCli(['data', 'check', '--model', qwen3]).status).toBe(2);
    expect(runCli(['data', 'check', '--model', qwen3, '--data', SAMPLE, '--template', 'vicuna']).status).toBe(
      2,
    );
  });
});
