// One stored example rendered exactly as training will see it: templated, tokenized with the model's
// tokenizer, each piece marked trained or not, special tokens (<|im_end|> …) marked so they can be
// shown, and whether training will use it at the chosen max length (the same audit the run makes,
// too-long examples left out as runs do).
import type { DatasetPreview, DatasetPreviewSpan } from '../../api/contract/datasets.js';
import { defaultTemplate } from '../engine/generate.js';
import type { Store } from '../store/index.js';
import { openAuditor } from './check.js';
import { isConversation } from './conversation.js';
import { DataError } from './errors.js';
import { createTemplate, TemplateError, type TemplateName } from './template/index.js';
import { type ModelTokenizer, SegmentEncoder, type TokenizedExample } from './tokenize.js';
import type { TokenizerCache } from './tokenizer-cache.js';
import { checkExample, type ExampleLocation } from './validate.js';

export interface PreviewRequest {
  versionId: number;
  ordinal: number;
  modelDir: string;
  template?: TemplateName;
  maxLen: number;
}

export function previewExample(
  store: Store,
  tokenizers: TokenizerCache,
  req: PreviewRequest,
): DatasetPreview {
  const version = store.datasets.getVersion(req.versionId);
  if (!version) {
    throw new DataError(
      'not-found',
      `There is no dataset version ${req.versionId}.`,
      'Choose a dataset again.',
    );
  }
  const example = store.datasets.getExamplesAt(req.versionId, [req.ordinal])[0];
  if (!example) {
    throw new DataError(
      'not-found',
      `Version ${version.version} has no example ${req.ordinal + 1}.`,
      version.exampleCount > 0
        ? `It has examples 1 to ${version.exampleCount}.`
        : 'This version has no examples.',
    );
  }
  const model = tokenizers.get(req.modelDir);
  const templateName = req.template ?? defaultTemplate(model);
  const template = createTemplate(templateName, model.context, model.specialTokens);
  // The run's own audit: a too-long example is left out of training (tooLong 'exclude').
  const auditor = openAuditor(model, { template: templateName, maxLen: req.maxLen, tooLong: 'exclude' });
  const location = locationOf(example.sourceRow);
  const input = { ordinal: example.ordinal, messages: example.messages, ...(location && { location }) };
  const audited = auditor.add(input, checkExample(input));

  let tokens: TokenizedExample | null = null;
  if (isConversation(example.messages)) {
    try {
      tokens = new SegmentEncoder(model).encode(template.render(example.messages));
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
    }
  }
  const length = tokens?.ids.length ?? 0;
  let problem: string | null = null;
  if (!audited) {
    const issues = auditor.report().issues;
    const excluded = issues.find((i) => i.code === 'excluded-too-long');
    problem = excluded
      ? `This example is ${length} tokens long with the ${templateName} template, more than the maximum length of ${req.maxLen}, so training leaves it out. Raise the maximum length or shorten the example.`
      : (issues.find((i) => i.blocking)?.message ??
        issues[0]?.message ??
        'Training cannot use this example.');
  }
  return {
    ordinal: example.ordinal,
    template: templateName,
    endToken: template.endOfTurn,
    tokens: length,
    trainedTokens: tokens ? tokens.trained.reduce((sum, flag) => sum + flag, 0) : 0,
    maxLen: req.maxLen,
    trainedInRun: audited !== null,
    problem,
    spans: tokens ? previewSpans(model, tokens) : [],
  };
}

/** Token ids of the tokenizer's special added tokens (<|im_start|>, <|im_end|>, BOS …). */
export function specialTokenIds(model: ModelTokenizer): Set<number> {
  const ids = new Set<number>();
  for (const [id, token] of model.tokenizer.get_added_tokens_decoder()) if (token.special) ids.add(id);
  return ids;
}

/**
 * The tokens as text, cut where the trained flag changes and around every special token (each
 * special token is a span of its own). Decoding prefixes and taking the difference keeps the spaces
 * that decoders strip from the start of a decoded run.
 */
export function previewSpans(model: ModelTokenizer, tokens: TokenizedExample): DatasetPreviewSpan[] {
  const ids = Array.from(tokens.ids);
  const special = specialTokenIds(model);
  const decode = (end: number) =>
    end === 0
      ? ''
      : model.tokenizer.decode(ids.slice(0, end), {
          skip_special_tokens: false,
          clean_up_tokenization_spaces: false,
        });
  const spans: DatasetPreviewSpan[] = [];
  let before = '';
  let start = 0;
  for (let i = 1; i <= ids.length; i++) {
    const cut =
      i === ids.length ||
      tokens.trained[i] !== tokens.trained[start] ||
      special.has(ids[i]!) ||
      special.has(ids[start]!);
    if (!cut) continue;
    const upTo = decode(i);
    const span: DatasetPreviewSpan = {
      text: upTo.slice(before.length),
      trained: tokens.trained[start] === 1,
    };
    if (special.has(ids[start]!)) span.special = true;
    spans.push(span);
    before = upTo;
    start = i;
  }
  return spans;
}

function locationOf(source: unknown): ExampleLocation | undefined {
  if (!source || typeof source !== 'object') return undefined;
  const s = source as { file?: unknown; line?: unknown; row?: unknown };
  const location: ExampleLocation = {};
  if (typeof s.file === 'string') location.file = s.file;
  if (typeof s.line === 'number') location.line = s.line;
  if (typeof s.row === 'number') location.row = s.row;
  return location;
}
