// Reading a PEFT LoRA folder (formats.md §4) for export: its settings, and each adapted projection's
// A [r, in] and B [out, r] as float32, with every shape checked against the base model's config.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SafetensorsReader } from '../formats/safetensors.js';
import type { ModelConfig } from '../models/config.js';
import { expectedTensors } from '../models/tensor-names.js';
import { ExportError } from './errors.js';

export interface PeftConfig {
  r: number;
  lora_alpha: number;
  use_rslora?: boolean;
  use_dora?: boolean;
  target_modules?: string[] | string;
  modules_to_save?: string[] | null;
  rank_pattern?: Record<string, number>;
  alpha_pattern?: Record<string, number>;
  base_model_name_or_path?: string;
  lora_dropout?: number;
  [key: string]: unknown;
}

export interface LoraPair {
  /** HF weight name of the adapted projection, e.g. model.layers.0.self_attn.q_proj.weight */
  weight: string;
  /** GGUF name of that weight, e.g. blk.0.attn_q.weight */
  gguf: string;
  role: string;
  r: number;
  out: number;
  in: number;
  /** PEFT scaling of this module: alpha/r, or alpha/√r with rsLoRA. */
  scale: number;
  A: Float32Array;
  B: Float32Array;
}

export interface PeftAdapter {
  dir: string;
  config: PeftConfig;
  pairs: LoraPair[];
}

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const MERGE_HINT =
  'Export with --format gguf-merged or hf-merged instead: merging carries every adapter feature.';

export async function readPeftConfig(dir: string): Promise<PeftConfig> {
  const file = path.join(dir, ADAPTER_CONFIG);
  let config: PeftConfig;
  try {
    config = JSON.parse(await readFile(file, 'utf8')) as PeftConfig;
  } catch (err) {
    throw new ExportError(
      'adapter-unreadable',
      `Cannot read ${file}: ${(err as Error).message}.`,
      'Pass --adapter a PEFT adapter folder (adapter_config.json + adapter_model.safetensors).',
    );
  }
  if (config.peft_type !== undefined && config.peft_type !== 'LORA') {
    throw new ExportError(
      'adapter-unsupported',
      `${file}: peft_type is ${String(config.peft_type)}, not LORA.`,
      'Only LoRA adapters can be exported.',
    );
  }
  if (
    !(typeof config.r === 'number' && config.r > 0) ||
    !(typeof config.lora_alpha === 'number' && config.lora_alpha > 0)
  ) {
    throw new ExportError(
      'adapter-unreadable',
      `${file} needs a positive numeric "r" and "lora_alpha".`,
      'Save the adapter again from Tunesmith or PEFT.',
    );
  }
  return config;
}

/** Settings the GGUF LoRA format cannot carry, as a sentence, or null. */
export function ggufAdapterProblem(adapter: PeftAdapter): string | null {
  const c = adapter.config;
  if (c.use_dora) return 'it is a DoRA adapter (use_dora), which llama.cpp cannot apply';
  if (c.modules_to_save && c.modules_to_save.length > 0)
    return `it trains whole modules (${c.modules_to_save.join(', ')}), which a GGUF LoRA cannot hold`;
  const scales = new Set(adapter.pairs.map((p) => p.scale * p.r));
  if (scales.size > 1)
    return 'its modules use different alpha/rank ratios (rank_pattern/alpha_pattern), and a GGUF adapter has one alpha';
  return null;
}

function moduleScale(config: PeftConfig, module: string, r: number): number {
  const match = (pattern: Record<string, number> | undefined) =>
    Object.entries(pattern ?? {}).find(([key]) => module === key || module.endsWith(`.${key}`))?.[1];
  const alpha = match(config.alpha_pattern) ?? config.lora_alpha;
  return config.use_rslora ? alpha / Math.sqrt(r) : alpha / r;
}

export async function readPeftAdapter(dir: string, model: ModelConfig): Promise<PeftAdapter> {
  const config = await readPeftConfig(dir);
  const file = path.join(dir, ADAPTER_WEIGHTS);
  const reader = await SafetensorsReader.open(file).catch((err) => {
    throw new ExportError(
      'adapter-unreadable',
      `Cannot open ${file}: ${(err as Error).message}`,
      'The adapter folder needs adapter_model.safetensors.',
    );
  });
  try {
    const byModule = new Map(
      expectedTensors(model)
        .filter((t) => t.role.linear)
        .map((t) => [t.name.replace(/\.weight$/, ''), t]),
    );
    const pairs: LoraPair[] = [];
    const seen = new Set<string>();
    for (const info of reader.tensors) {
      const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(info.name);
      if (!m) {
        if (/lora_embedding|embed_tokens|lm_head/.test(info.name)) {
          throw new ExportError(
            'adapter-unsupported',
            `${file} holds "${info.name}": trained embeddings or output layer cannot be exported as a GGUF/Ollama adapter.`,
            MERGE_HINT,
          );
        }
        throw new ExportError(
          'adapter-unsupported',
          `${file} holds "${info.name}", which is not a LoRA A/B weight of a linear projection.`,
          MERGE_HINT,
        );
      }
      const module = m[1]!;
      if (seen.has(module)) continue;
      seen.add(module);
      const expected = byModule.get(module);
      if (!expected)
        throw new ExportError(
          'adapter-mismatch',
          `${file}: "${info.name}" adapts ${module}, which the base model does not have.`,
          'Export with the base model the adapter was trained on.',
        );
      const prefix = `base_model.model.${module}`;
      const a = reader.tensor(`${prefix}.lora_A.weight`);
      const b = reader.tensor(`${prefix}.lora_B.weight`);
      const [out, inDim] = expected.shape as [number, number];
      const r = a.shape[0]!;
      if (
        a.shape.length !== 2 ||
        b.shape.length !== 2 ||
        a.shape[1] !== inDim ||
        b.shape[0] !== out ||
        b.shape[1] !== r
      ) {
        throw new ExportError(
          'adapter-mismatch',
          `${file}: ${module} has A ${JSON.stringify(a.shape)} and B ${JSON.stringify(b.shape)}, but the base weight is [${out}, ${inDim}].`,
          'Export with the base model the adapter was trained on.',
        );
      }
      pairs.push({
        weight: expected.name,
        gguf: expected.gguf,
        role: expected.role.role,
        r,
        out,
        in: inDim,
        scale: moduleScale(config, module, r),
        A: await reader.readFloat32(a.name),
        B: await reader.readFloat32(b.name),
      });
    }
    if (pairs.length === 0)
      throw new ExportError(
        'adapter-unreadable',
        `${file} holds no LoRA weights.`,
        'Save the adapter again.',
      );
    return { dir, config, pairs };
  } finally {
    await reader.close();
  }
}
