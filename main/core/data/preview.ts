// One stored example rendered exactly as training will see it: templated, tokenized with the model's
// tokenizer, each piece marked trained or not, special tokens (<|im_end|> …) marked so they can be
// shown, and whether training will use it at the chosen max length (the same audit the run makes,
// too-long examples left out as runs do).
import type { DatasetPreview } from '../../api/contract/datasets.js';
import { defaultTemplate } from '../engine/generate.js';
import type { Store } from '../store/index.js';
import { decodeSpans, locationOf, openAuditor } from './check.js';
import { isConversation } from './conversation.js';
import { DataError } from './errors.js';
import { createTemplate, TemplateError, type TemplateName } from './template/index.js';
import { type ModelTokenizer, SegmentEncoder, type TokenizedExample } from './tokenize.js';
import type { TokenizerCache } from './tokenizer-cache.js';
import { checkExample } from './validate.js';

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
    spans: tokens ? decodeSpans(model, tokens, specialTokenIds(model)) : [],
  };
}

/** Token ids of the tokenizer's special added tokens (<|im_start|>, <|im_end|>, BOS …). */
export function specialTokenIds(model: ModelTokenizer): Set<number> {
  const ids = new Set<number>();
  for (const [id, token] of model.tokenizer.get_added_tokens_decoder()) if (token.special) ids.add(id);
  return ids;
}
