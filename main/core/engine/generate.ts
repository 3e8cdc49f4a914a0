// Chat with a model folder (optionally with a PEFT adapter): the prompt is rendered with the same
// template as training, up to where the assistant's reply would start, and generation stops at that
// template's end-of-turn token (or the tokenizer's end-of-sequence token).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { LoraSpec, LoraTarget, Session } from '../../../native/index.js';
import { endTokenId } from '../data/audit.js';
import type { Conversation } from '../data/conversation.js';
import { type ChatTemplate, createTemplate, type TemplateName } from '../data/template/index.js';
import { loadModelTokenizer, type ModelTokenizer, SegmentEncoder } from '../data/tokenize.js';
import { loadNative } from './native.js';

export interface GenerateRequest {
  modelDir: string;
  adapterDir?: string;
  prompt: string;
  system?: string;
  /** Default: the model's own chat template when it has one, else ChatML. */
  template?: TemplateName;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  quant?: 'nf4' | 'none';
  threads?: number;
  /** Called with each new piece of text as it is generated. */
  onText?: (text: string) => void;
}

export interface GenerateResult {
  text: string;
  tokens: number[];
  promptTokens: number;
  /** The model ended its reply itself (end-of-turn token), rather than hitting maxNewTokens. */
  stopped: boolean;
  template: TemplateName;
  tokensPerSecond: number;
}

export class GenerateError extends Error {
  override readonly name = 'GenerateError';
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The tokens of the rendered conversation before the first assistant reply: the prompt. */
export function promptIds(model: ModelTokenizer, template: ChatTemplate, messages: Conversation): Int32Array {
  // Render with a placeholder reply and keep what precedes it: the same text training saw there.
  const segments = template.render([...messages, { role: 'assistant', content: 'x' }]);
  const firstReply = segments.findIndex((s) => s.trained);
  return new SegmentEncoder(model).encode(segments.slice(0, firstReply)).ids;
}

export function defaultTemplate(model: ModelTokenizer): TemplateName {
  return model.context.chatTemplate ? 'model' : 'chatml';
}

/** LoRA settings of a PEFT adapter folder, so the session is built to match it. */
export function readAdapterSpec(adapterDir: string): LoraSpec {
  const file = path.join(adapterDir, 'adapter_config.json');
  let config: { r?: unknown; lora_alpha?: unknown; target_modules?: unknown; use_rslora?: unknown };
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GenerateError(
      'adapter-unreadable',
      `Cannot read the adapter settings ${file}: ${(err as Error).message}.`,
      'Pass --adapter a PEFT adapter folder (adapter_config.json + adapter_model.safetensors).',
    );
  }
  if (typeof config.r !== 'number' || typeof config.lora_alpha !== 'number') {
    throw new GenerateError('adapter-unreadable', `${file} has no numeric "r" and "lora_alpha".`);
  }
  const spec: LoraSpec = { r: config.r, alpha: config.lora_alpha, useRslora: config.use_rslora === true };
  if (Array.isArray(config.target_modules)) spec.targetModules = config.target_modules as LoraTarget[];
  return spec;
}

export async function generateReply(request: GenerateRequest): Promise<GenerateResult> {
  const model = loadModelTokenizer(request.modelDir);
  const templateName = request.template ?? defaultTemplate(model);
  const template = createTemplate(templateName, model.context, model.specialTokens);
  const messages: Conversation = [
    ...(request.system ? [{ role: 'system' as const, content: request.system }] : []),
    { role: 'user', content: request.prompt },
  ];
  const prompt = promptIds(model, template, messages);
  const stopTokens = [endTokenId(model, template)];
  const eos = model.tokenizer.encode(model.context.eosToken ?? '', { add_special_tokens: false }).ids;
  if (eos.length === 1 && eos[0] !== undefined && !stopTokens.includes(eos[0])) stopTokens.push(eos[0]);

  const maxNewTokens = request.maxNewTokens ?? 256;
  const lora = request.adapterDir ? readAdapterSpec(request.adapterDir) : { r: 1, alpha: 1 };
  const native = loadNative();
  const session: Session = await native.loadModel({
    modelDir: request.modelDir,
    quant: request.quant ?? 'nf4',
    lora,
    maxSeqLen: prompt.length + maxNewTokens,
    seed: request.seed ?? 0,
    ...(request.threads ? { threads: request.threads } : {}),
  });
  try {
    if (request.adapterDir) await session.loadAdapter(request.adapterDir);
    const generated: number[] = [];
    let shown = '';
    const started = performance.now();
    await session.generate(
      prompt,
      {
        maxNewTokens,
        temperature: request.temperature ?? 0,
        topP: request.topP ?? 1,
        stopTokens,
        useAdapter: request.adapterDir !== undefined,
      },
      (token) => {
        generated.push(token);
        // Decode everything so far and print the difference: a character may span several tokens.
        const text = visibleText(model, generated, stopTokens);
        if (text.length > shown.length && !text.endsWith('\uFFFD')) {
          request.onText?.(text.slice(shown.length));
          shown = text;
        }
      },
    );
    const seconds = (performance.now() - started) / 1000;
    const text = visibleText(model, generated, stopTokens);
    if (text.length > shown.length) request.onText?.(text.slice(shown.length));
    const last = generated.at(-1);
    return {
      text,
      tokens: generated,
      promptTokens: prompt.length,
      stopped: last !== undefined && stopTokens.includes(last),
      template: templateName,
      tokensPerSecond: seconds > 0 ? generated.length / seconds : 0,
    };
  } finally {
    session.dispose();
  }
}

function visibleText(model: ModelTokenizer, tokens: number[], stopTokens: number[]): string {
  const last = tokens.at(-1);
  const body = last !== undefined && stopTokens.includes(last) ? tokens.slice(0, -1) : tokens;
  return model.tokenizer.decode(body, { skip_special_tokens: false });
}
