// Choosing a template by name for a model's tokenizer.
import { alpacaTemplate } from './alpaca.js';
import { chatmlTemplate } from './chatml.js';
import { llama3Template } from './llama3.js';
import { mistralTemplate } from './mistral.js';
import { modelTemplate } from './model-jinja.js';
import type { ChatTemplate, TemplateContext, TemplateName } from './types.js';

export * from './types.js';

export function createTemplate(
  name: TemplateName,
  context: TemplateContext,
  specialTokens: readonly string[],
): ChatTemplate {
  switch (name) {
    case 'chatml':
      return chatmlTemplate;
    case 'llama3':
      return llama3Template;
    case 'mistral':
      return mistralTemplate;
    case 'alpaca':
      return alpacaTemplate(context);
    case 'model':
      return modelTemplate(context, { specialTokens });
  }
}
