// `tunesmith generate` through the built CLI, on a tiny model the CLI itself makes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { endTokenId } from '../../main/core/data/audit.js';
import { createTemplate } from '../../main/core/data/template/index.js';
import { loadModelTokenizer } from '../../main/core/data/tokenize.js';
import { promptIds } from '../../main/core/engine/generate.js';
import { loadNative } from '../../main/core/engine/native.js';
import { runCli, tempDir } from '../helpers/cli.js';

interface GenerateJson {
  text: string;
  tokens: number[];
  promptTokens: number;
  stopped: boolean;
  template: string;
}

describe('tunesmith generate', () => {
  const work = tempDir();
  const model = join(work, 'm');

  beforeAll(() => {
    const made = runCli(['models', 'create-tiny', '--arch', 'qwen2', '--out', model]);
    expect(made.status, made.stderr).toBe(0);
  });

  it('streams a reply from a fresh tiny model (the issue’s smoke test)', () => {
    const { status, stdout, stderr } = runCli([
      'generate',
      '--model',
      model,
      '--prompt',
      'hi',
      '--max-new-tokens',
      '5',
    ]);
    expect(status, stderr).toBe(0);
    expect(stderr).toMatch(/5 tokens, .* tok\/s, template model/);
    expect(stdout.length).toBeGreaterThan(0);
  });

  it('renders the prompt with the model’s template and is deterministic when greedy', () => {
    const args = ['generate', '--model', model, '--prompt', 'hi', '--max-new-tokens', '6', '--json'];
    const first = JSON.parse(runCli(args).stdout) as GenerateJson;
    const second = JSON.parse(runCli(args).stdout) as GenerateJson;
    expect(first.template).toBe('model');
    // <|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n
    expect(first.promptTokens).toBe(9);
    expect(first.tokens).toHaveLength(6);
    expect(second.tokens).toEqual(first.tokens);
    const system = JSON.parse(runCli([...args, '--system', 'Be brief.']).stdout) as GenerateJson;
    expect(system.promptTokens).toBeGreaterThan(first.promptTokens);
  });

  it('applies a PEFT adapter: an untrained one (B = 0) changes nothing', async () => {
    const adapter = join(work, 'adapter');
    const session = await loadNative().loadModel({
      modelDir: model,
      quant: 'nf4',
      lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] },
      maxSeqLen: 32,
    });
    await session.saveAdapter(adapter);
    session.dispose();
    const base = JSON.parse(
      runCli(['generate', '--model', model, '--prompt', 'hi', '--max-new-tokens', '4', '--json']).stdout,
    ) as GenerateJson;
    const adapted = runCli([
      'generate',
      '--model',
      model,
      '--adapter',
      adapter,
      '--prompt',
      'hi',
      '--max-new-tokens',
      '4',
      '--json',
    ]);
    expect(adapted.status, adapted.stderr).toBe(0);
    expect((JSON.parse(adapted.stdout) as GenerateJson).tokens).toEqual(base.tokens);
  });

  it('applies a trained adapter: the reply it learned comes out, then the end token', async () => {
    const adapter = join(work, 'trained');
    const tokenizer = loadModelTokenizer(model);
    const template = createTemplate('model', tokenizer.context, tokenizer.specialTokens);
    const prompt = promptIds(tokenizer, template, [{ role: 'user', content: 'hi' }]);
    const reply = [
      ...tokenizer.tokenizer.encode('ok ok', { add_special_tokens: false }).ids,
      endTokenId(tokenizer, template),
    ];
    const tokens = Int32Array.from([...prompt, ...reply]);
    const trained = Uint8Array.from(tokens, (_, i) => (i >= prompt.length ? 1 : 0));
    const session = await loadNative().loadModel({
      modelDir: model,
      quant: 'nf4',
      lora: { r: 8, alpha: 16 },
      maxSeqLen: 64,
    });
    for (let i = 0; i < 60; i++) {
      await session.step({ tokens, trained, seqLens: Int32Array.of(tokens.length) });
      await session.optimizerStep({ lr: 1e-2 });
    }
    await session.saveAdapter(adapter);
    session.dispose();
    const args = [
      'generate',
      '--model',
      model,
      '--adapter',
      adapter,
      '--prompt',
      'hi',
      '--max-new-tokens',
      '10',
      '--json',
    ];
    const result = JSON.parse(runCli(args).stdout) as GenerateJson;
    expect(result.tokens).toEqual(reply);
    expect(result.stopped).toBe(true);
  });

  it('says what is wrong with a folder that is not an adapter', () => {
    const notAdapter = join(work, 'empty');
    mkdirSync(notAdapter);
    const { status, stderr } = runCli([
      'generate',
      '--model',
      model,
      '--adapter',
      notAdapter,
      '--prompt',
      'hi',
    ]);
    expect(status).toBe(1);
    expect(stderr).toMatch(/adapter_config\.json/);
  });

  it('refuses a model folder without a tokenizer, and bad options, with what to do', () => {
    const bare = join(work, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'config.json'), '{}');
    const missing = runCli(['generate', '--model', bare, '--prompt', 'hi']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/tokenizer/i);
    const badTemp = runCli(['generate', '--model', model, '--prompt', 'hi', '--temperature', 'hot']);
    expect(badTemp.status).toBe(2);
    expect(badTemp.stderr).toMatch(/--temperature must be a number/);
    expect(runCli(['generate', '--prompt', 'hi']).status).toBe(2);
  });
});
