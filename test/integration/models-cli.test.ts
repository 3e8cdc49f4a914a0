// `tunesmith models create-tiny` and `models inspect` through the built CLI, as a person runs them.
// Needs the build (`npx tsc -p tsconfig.node.json`; `npm test` builds first).
import { readFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

const root = tempDir();
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Parameters from config.json by the architecture's formula, written out independently of the app. */
function parametersFromConfig(dir: string): number {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const d = c.hidden_size;
  const headDim = c.head_dim ?? d / c.num_attention_heads;
  const q = c.num_attention_heads * headDim;
  const kv = c.num_key_value_heads * headDim;
  const f = c.intermediate_size;
  const biases = c.model_type === 'qwen2' ? q + 2 * kv : 0;
  const layer = d * q + 2 * d * kv + q * d + 3 * d * f + 2 * d + biases;
  return c.vocab_size * d * (c.tie_word_embeddings ? 1 : 2) + c.num_hidden_layers * layer + d;
}

describe.each([
  ['llama', 128256, 'LlamaForCausalLM'],
  ['mistral', 32002, 'MistralForCausalLM'],
  ['qwen2', 151669, 'Qwen2ForCausalLM'],
])('tunesmith models create-tiny --arch %s, then inspect', (arch, vocab, className) => {
  const dir = join(root, arch);

  it('creates the folder and inspect --json finds it ready, with the expected size', () => {
    const created = runCli(['models', 'create-tiny', '--arch', arch, '--out', dir, '--json']);
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    expect(JSON.parse(created.stdout).config.vocabSize).toBe(vocab);

    const inspected = runCli(['models', 'inspect', dir, '--json']);
    expect(inspected.status).toBe(0);
    const report = JSON.parse(inspected.stdout);
    expect(report.ok).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.architecture).toBe(arch);
    expect(report.config.className).toBe(className);
    expect(report.parameterCount).toBe(parametersFromConfig(dir));
    expect(report.tokenizer).toMatchObject({ present: true, hasChatTemplate: true, vocabSize: vocab });
    expect(report.memory.map((m: { seqLen: number }) => m.seqLen)).toEqual([2048, 4096]);
  });
});

describe('tunesmith models: options and broken folders', () => {
  it('prints a readable report', () => {
    const { status, stdout } = runCli(['models', 'inspect', join(root, 'qwen2')]);
    expect(status).toBe(0);
    expect(stdout).toMatch(
      /architecture +qwen2 \(Qwen2ForCausalLM\): 2 layers, hidden 64, .*tied embeddings/,
    );
    expect(stdout).toMatch(/parameters +9\.8 M/);
    expect(stdout).toMatch(/tokenizer +151669 tokens, end of sequence <\|im_end\|>, chat template yes/);
    expect(stdout).toMatch(/QLoRA memory +2048 tokens [\d.]+ [GM]B, 4096 tokens/);
    expect(stdout).toMatch(/Ready to train\./);
  });

  it('--seed and the sizes pass through: same seed, same bytes', () => {
    const a = join(root, 'seed-a');
    const args = [
      '--arch',
      'mistral',
      '--layers',
      '1',
      '--hidden',
      '32',
      '--heads',
      '2',
      '--kv-heads',
      '1',
      '--ffn',
      '48',
      '--seed',
      '5',
      '--dtype',
      'bf16',
    ];
    expect(runCli(['models', 'create-tiny', ...args, '--out', a]).status).toBe(0);
    const config = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      num_hidden_layers: 1,
      hidden_size: 32,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      intermediate_size: 48,
      torch_dtype: 'bfloat16',
    });
    const again = join(root, 'seed-c');
    expect(runCli(['models', 'create-tiny', ...args, '--out', again]).status).toBe(0);
    expect(
      readFileSync(join(again, 'model.safetensors')).equals(readFileSync(join(a, 'model.safetensors'))),
    ).toBe(true);
  });

  it('refuses to overwrite a model (exit 1) and explains bad options (exit 2)', () => {
    const existing = join(root, 'seed-a');
    const again = runCli(['models', 'create-tiny', '--arch', 'mistral', '--out', existing]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already holds files; Tunesmith will not overwrite them/);

    const noArch = runCli(['models', 'create-tiny', '--out', join(root, 'x')]);
    expect(noArch.status).toBe(2);
    expect(noArch.stderr).toMatch(/--arch is required: one of llama, mistral, qwen2/);
    const badHidden = runCli([
      'models',
      'create-tiny',
      '--arch',
      'llama',
      '--hidden',
      '60',
      '--out',
      join(root, 'x'),
    ]);
    expect(badHidden.status).toBe(2);
    expect(badHidden.stderr).toMatch(/hidden \(60\) must be heads \(4\) × an even head size/);
    const badTokenizer = runCli([
      'models',
      'create-tiny',
      '--arch',
      'llama',
      '--tokenizer',
      'gpt2',
      '--out',
      join(root, 'x'),
    ]);
    expect(badTokenizer.status).toBe(2);
    expect(badTokenizer.stderr).toMatch(/--tokenizer must be one of qwen3, llama3, mistral/);
  });

  it('inspect exits 1 on a damaged folder and names the file', () => {
    const dir = join(root, 'seed-c');
    const weights = join(dir, 'model.safetensors');
    truncateSync(weights, 1000);
    const human = runCli(['models', 'inspect', dir]);
    expect(human.status).toBe(1);
    expect(human.stdout).toContain(weights);
    expect(human.stdout).toMatch(/Not usable: 1 problem to fix/);
    const json = runCli(['models', 'inspect', dir, '--json']);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout).problems[0].file).toBe(weights);

    const missing = runCli(['models', 'inspect', join(root, 'nowhere')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/nowhere is not a folder/);
  });

  it('answers --help for the group and for each subcommand', () => {
    const group = runCli(['models', '--help']);
    expect(group.status).toBe(0);
    expect(group.stdout).toMatch(/create-tiny/);
    expect(group.stdout).toMatch(/inspect/);
    const sub = runCli(['models', 'inspect', '--help']);
    expect(sub.stdout).toMatch(/Usage: tunesmith models inspect DIR \[--json\]/);
  });
});
