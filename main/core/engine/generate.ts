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
  /** One user message (the CLI). Give this or `messages`. */
  prompt?: string;
  /** A conversation of user and assistant turns that ends with the user's message (chat). */
  messages?: Conversation;
  system?: string;
  /** Default: the model's own chat template when it has one, else ChatML. */
  template?: TemplateName;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  quant?: 'nf4' | 'none';
  threads?: number;
  /** Aborting ends the reply with what was generated so far (`cancelled`). */
  signal?: AbortSignal;
  /** Called with each new piece of text as it is generated. */
  onText?: (text: string) => void;
}

export interface GenerateResult {
  text: string;
  tokens: number[];
  promptTokens: number;
  /** The model ended its reply itself (end-of-turn token), rather than hitting maxNewTokens. */
  stopped: boolean;
  /** The request's signal ended the reply early. */
  cancelled: boolean;
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

/**
 * The prompt: the tokens of the rendered conversation up to where the reply to its last message
 * starts (earlier replies included, with their end tokens, as training saw them).
 */
export function promptIds(model: ModelTokenizer, template: ChatTemplate, messages: Conversation): Int32Array {
  // Render with a placeholder reply and keep what precedes it: the same text training saw there.
  const segments = template.render([...messages, { role: 'assistant', content: 'x' }]);
  let lastReply = segments.length - 1;
  while (lastReply >= 0 && !segments[lastReply]!.trained) lastReply--;
  return new SegmentEncoder(model).encode(segments.slice(0, lastReply)).ids;
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

/** A prompt ready for the engine: its tokens, the template it was rendered with and where to stop. */
export interface PreparedPrompt {
  model: ModelTokenizer;
  template: TemplateName;
  ids: Int32Array;
  stopTokens: number[];
}

/** Renders `prompt` or `messages` (after `system`) with the template, up to where the reply starts. */
export function preparePrompt(
  model: ModelTokenizer,
  request: Pick<GenerateRequest, 'prompt' | 'messages' | 'system' | 'template'>,
): PreparedPrompt {
  const templateName = request.template ?? defaultTemplate(model);
  const template = createTemplate(templateName, model.context, model.specialTokens);
  const turns: Conversation = request.messages ?? [{ role: 'user', content: request.prompt ?? '' }];
  if (turns.length === 0 || turns.at(-1)!.role !== 'user') {
    throw new GenerateError(
      'bad-conversation',
      'The conversation must end with a message from the user: that is what the model answers.',
      'Add the question as the last message.',
    );
  }
  const messages: Conversation = [
    ...(request.system ? [{ role: 'system' as const, content: request.system }] : []),
    ...turns,
  ];
  return {
    model,
    template: templateName,
    ids: promptIds(model, template, messages),
    stopTokens: stopTokensFor(model, template),
  };
}

/** The template's end-of-turn token, and the tokenizer's end-of-sequence token when it is another. */
export function stopTokensFor(model: ModelTokenizer, template: ChatTemplate): number[] {
  const stopTokens = [endTokenId(model, template)];
  const eos = model.tokenizer.encode(model.context.eosToken ?? '', { add_special_tokens: false }).ids;
  if (eos.length === 1 && eos[0] !== undefined && !stopTokens.includes(eos[0])) stopTokens.push(eos[0]);
  return stopTokens;
}

export interface StreamOptions {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  /** false: the base model alone, even when the session holds an adapter. */
  useAdapter: boolean;
  signal?: AbortSignal;
  onText?: (text: string) => void;
}

export interface StreamedReply {
  /** The reply; settles early, with what was generated so far, when the signal aborts. */
  result: Promise<GenerateResult>;
  /**
   * Settles (never rejects) when the engine's call has returned: after a cancel, within a token or
   * two (the engine stops when onToken returns false). The session stays busy until then and must
   * not be used or disposed before.
   */
  settled: Promise<void>;
}

/** One reply from a loaded session, streamed as text through onText. */
export function streamReply(session: Session, prompt: PreparedPrompt, options: StreamOptions): StreamedReply {
  const { model, stopTokens } = prompt;
  const generated: number[] = [];
  let shown = '';
  let finished = false;
  const started = performance.now();
  const resultOf = (cancelled: boolean): GenerateResult => {
    const seconds = (performance.now() - started) / 1000;
    const tokens = [...generated];
    const last = tokens.at(-1);
    return {
      text: visibleText(model, tokens, stopTokens),
      tokens,
      promptTokens: prompt.ids.length,
      stopped: last !== undefined && stopTokens.includes(last),
      cancelled,
      template: prompt.template,
      tokensPerSecond: seconds > 0 ? tokens.length / seconds : 0,
    };
  };
  if (options.signal?.aborted) {
    return { result: Promise.resolve(resultOf(true)), settled: Promise.resolve() };
  }
  let resolveCancelled!: (result: GenerateResult) => void;
  const cancelled = new Promise<GenerateResult>((resolve) => {
    resolveCancelled = resolve;
  });
  const onAbort = () => {
    if (finished) return;
    finished = true;
    resolveCancelled(resultOf(true));
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const engine = session.generate(
    prompt.ids,
    {
      maxNewTokens: options.maxNewTokens,
      temperature: options.temperature,
      topP: options.topP,
      stopTokens,
      useAdapter: options.useAdapter,
    },
    (token) => {
      // false stops the engine: a cancelled reply frees the session within a token or two.
      if (finished) return false;
      generated.push(token);
      // Decode everything so far and pass on the difference: a character may span several tokens.
      const text = visibleText(model, generated, stopTokens);
      if (text.length > shown.length && !text.endsWith('\uFFFD')) {
        options.onText?.(text.slice(shown.length));
        shown = text;
      }
    },
  );
  const completed = engine.then(() => {
    if (finished) return resultOf(true);
    finished = true;
    const result = resultOf(false);
    if (result.text.length > shown.length) options.onText?.(result.text.slice(shown.length));
    return result;
  });
  const settled = engine.then(
    () => undefined,
    () => undefined,
  );
  void settled.then(() => options.signal?.removeEventListener('abort', onAbort));
  return { result: Promise.race([completed, cancelled]), settled };
}

/** Loads the model (and adapter), generates one reply, and frees the model. */
export async function generateReply(request: GenerateRequest): Promise<GenerateResult> {
  const model = loadModelTokenizer(request.modelDir);
  const prompt = preparePrompt(model, request);
  const maxNewTokens = request.maxNewTokens ?? 256;
  const lora = request.adapterDir ? readAdapterSpec(request.adapterDir) : { r: 1, alpha: 1 };
  const native = loadNative();
  const session: Session = await native.loadModel({
    modelDir: request.modelDir,
    quant: request.quant ?? 'nf4',
    lora,
    maxSeqLen: prompt.ids.length + maxNewTokens,
    seed: request.seed ?? 0,
    ...(request.threads ? { threads: request.threads } : {}),
  });
  let reply: StreamedReply;
  try {
    if (request.adapterDir) await session.loadAdapter(request.adapterDir);
    reply = streamReply(session, prompt, {
      maxNewTokens,
      temperature: request.temperature ?? 0,
      topP: request.topP ?? 1,
      useAdapter: request.adapterDir !== undefined,
      ...(request.signal && { signal: request.signal }),
      ...(request.onText && { onText: request.onText }),
    });
  } catch (err) {
    session.dispose();
    throw err;
  }
  void reply.settled.then(() => session.dispose());
  return reply.result;
}

function visibleText(model: ModelTokenizer, tokens: number[], stopTokens: number[]): string {
  const last = tokens.at(-1);
  const body = last !== undefined && stopTokens.includes(last) ? tokens.slice(0, -1) : tokens;
  return model.tokenizer.decode(body, { skip_special_tokens: false });
}
