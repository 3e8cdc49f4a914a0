// The Ollama TEMPLATE renders exactly what training rendered: for every template (ChatML, Llama 3,
// Mistral, Alpaca and a model's own Jinja template), with and without a system prompt, over several
// turns, the boundary table the Go template is built from reproduces our rendering of the prompt.
import { describe, expect, it } from 'vitest';
import type { Conversation } from '../../../main/core/data/conversation.js';
import { createTemplate, renderedText, TEMPLATE_NAMES } from '../../../main/core/data/template/index.js';
import { loadModelTokenizer } from '../../../main/core/data/tokenize.js';
import {
  modelfile,
  ollamaAdapterProblem,
  ollamaTemplate,
  renderWithBoundaries,
  templateBoundaries,
} from '../../../main/core/export/ollama.js';
import { makeTokenizerFolder } from '../../helpers/tokenizer-folder.js';

const conversations: Conversation[] = [
  [{ role: 'user', content: 'Hi there' }],
  [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Hi' },
  ],
  [
    { role: 'system', content: 'Answer in French.' },
    { role: 'user', content: 'One?' },
    { role: 'assistant', content: 'Un.' },
    { role: 'user', content: 'Two?' },
  ],
];

/** What training's template renders before the reply to the last user turn. */
function promptText(template: ReturnType<typeof createTemplate>, messages: Conversation): string {
  const segments = template.render([...messages, { role: 'assistant', content: '\u0007' }]);
  const text = renderedText(segments);
  return text.slice(0, text.lastIndexOf('\u0007'));
}

describe('Ollama TEMPLATE', () => {
  const qwen = loadModelTokenizer(makeTokenizerFolder('qwen3'));
  for (const name of TEMPLATE_NAMES) {
    it(`reproduces the ${name} template's rendering, system prompt included`, () => {
      const template = createTemplate(name, qwen.context, qwen.specialTokens);
      const b = templateBoundaries(template);
      for (const c of conversations) expect(renderWithBoundaries(b, c)).toBe(promptText(template, c));
    });
  }

  it('writes the ChatML table as a Go template with the stop parameter', () => {
    const text = modelfile({
      from: './base.gguf',
      adapter: './adapter.gguf',
      template: createTemplate('chatml', qwen.context, []),
      stop: ['<|im_end|>'],
    });
    expect(text).toContain('FROM ./base.gguf\nADAPTER ./adapter.gguf\nTEMPLATE """');
    expect(text).toContain(
      '{{- if and (eq $prev "start") (eq .Role "system") }}{{ "<|im_start|>system\\n" }}{{ end }}',
    );
    expect(text).toContain(
      '{{- if and (eq $prev "system") (eq .Role "user") }}{{ "<|im_end|>\\n<|im_start|>user\\n" }}{{ end }}',
    );
    expect(text).toContain(
      '{{- if eq $prev "user" }}{{ "<|im_end|>\\n<|im_start|>assistant\\n" }}{{ end }}"""',
    );
    expect(text).toMatch(/PARAMETER stop "<\|im_end\|>"\n$/);
  });

  it('leaves out the BOS text the runner adds itself', () => {
    const llama = loadModelTokenizer(makeTokenizerFolder('llama3'));
    const go = ollamaTemplate(
      createTemplate('llama3', llama.context, llama.specialTokens),
      '<|begin_of_text|>',
    );
    expect(go).not.toContain('begin_of_text');
    expect(go).toContain('<|start_header_id|>system<|end_header_id|>');
  });

  it('sends archs on Ollama’s Go engine to a merged model (§6.2)', () => {
    expect(ollamaAdapterProblem('llama')).toBeNull();
    expect(ollamaAdapterProblem('qwen2')).toBeNull();
    expect(ollamaAdapterProblem('qwen3')).toMatch(/merged/);
  });
});
