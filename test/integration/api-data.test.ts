// The wizard's data step over the real HTTP server: the demo model, uploading a file, filtering the
// examples, one example rendered as training sees it, and the token-length histogram.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetImportResult, ModelSummary } from '../../main/api/contract.js';
import { type ApiServer, startApiServer } from '../helpers/api-server.js';
import { REPO_ROOT } from '../helpers/cli.js';

const SAMPLE = path.join(REPO_ROOT, 'resources/samples/reference-sample.csv');
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/data');

let api: ApiServer;
let demo: ModelSummary;
let sample: DatasetImportResult;

beforeAll(async () => {
  api = await startApiServer();
});
afterAll(async () => {
  await api?.close();
});

describe('models.createDemo', () => {
  it('makes the tiny demo model once, even when asked twice at the same time', async () => {
    const [first, second] = await Promise.all([
      api.call('models.createDemo', {}),
      api.call('models.createDemo', {}),
    ]);
    expect(first.id).toBe(second.id);
    expect(first.source).toBe('demo');
    expect(first.usable).toBe(true);
    expect(first.path).toBe(path.join(api.services.paths.models, 'demo'));
    expect(existsSync(path.join(first.path, 'model.safetensors'))).toBe(true);
    const again = await api.call('models.createDemo', {});
    expect(again.id).toBe(first.id);
    const listed = await api.call('models.list', {});
    expect(listed.filter((m) => m.path === first.path)).toHaveLength(1);
    demo = first;
  });
});

describe('datasets.upload', () => {
  it('imports a file sent as text and keeps it under the home folder', async () => {
    sample = await api.call('datasets.upload', {
      fileName: 'reference-sample.csv',
      content: readFileSync(SAMPLE, 'utf8'),
      name: 'Sample',
    });
    expect(sample.dataset.name).toBe('Sample');
    expect(sample.version.exampleCount).toBe(20);
    expect(sample.report.blockingCount).toBe(0);
    const kept = sample.version.sourcePath!;
    expect(kept.startsWith(path.join(api.services.homeDir, 'uploads'))).toBe(true);
    expect(readFileSync(kept, 'utf8')).toBe(readFileSync(SAMPLE, 'utf8'));
  });

  it('imports a binary file sent as base64 (Parquet)', async () => {
    const result = await api.call('datasets.upload', {
      fileName: 'reference.parquet',
      content: readFileSync(path.join(FIXTURES, 'reference.parquet')).toString('base64'),
      encoding: 'base64',
    });
    expect(result.format.format).toBe('parquet');
    expect(result.version.exampleCount).toBeGreaterThan(0);
  });

  it('refuses a malformed CSV with what is wrong, and stores nothing', async () => {
    const before = await api.call('datasets.list', {});
    const uploads = path.join(api.services.homeDir, 'uploads');
    const foldersBefore = readdirSync(uploads).length;
    const error = await api.fail('datasets.upload', {
      fileName: 'broken.csv',
      content: readFileSync(path.join(FIXTURES, 'unbalanced-quotes.csv'), 'utf8'),
    });
    expect(error.code).toBe('unbalanced-quotes');
    expect(error.message).toMatch(/broken\.csv/);
    expect(error.hint).toBeTruthy();
    expect(await api.call('datasets.list', {})).toEqual(before);
    expect(readdirSync(uploads)).toHaveLength(foldersBefore);
  });

  it('refuses an empty file and a name with a folder in it', async () => {
    const empty = await api.fail('datasets.upload', { fileName: 'nothing.csv', content: '' });
    expect(empty.code).toBe('empty-file');
    expect(empty.hint).toBeTruthy();
    const traversal = await api.post('datasets.upload', { fileName: '../escape.csv', content: 'a,b\n1,2\n' });
    expect(traversal.status).toBe(400);
    expect(traversal.body.error?.message).toMatch(/not a path/);
    const dots = await api.fail('datasets.upload', { fileName: '..', content: 'a,b\n1,2\n' });
    expect(dots.code).toBe('bad-option');
  });

  it('accepts an upload past the 16 MB limit of other commands, and says when a body is too large', async () => {
    const big = 'x'.repeat(17 * 1024 * 1024);
    const tooLarge = await api.post('runs.list', { limit: 1, padding: big });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error?.code).toBe('too-large');
    expect(tooLarge.body.error?.hint).toBeTruthy();
    // The upload's body is read whole; this one then fails on its (non-base64) contents, not its size.
    const upload = await api.post('datasets.upload', {
      fileName: 'big.parquet',
      content: `${big}!`,
      encoding: 'base64',
    });
    expect(upload.body.error?.code).toBe('bad-option');
  });
});

describe('datasets.examples filters', () => {
  let rules: DatasetImportResult;
  beforeAll(async () => {
    rules = await api.call('datasets.upload', {
      fileName: 'rules.jsonl',
      content: readFileSync(path.join(FIXTURES, 'rules.jsonl'), 'utf8'),
    });
  });

  it('finds examples by text in any turn, ignoring case, in order; total counts the matches', async () => {
    const page = await api.call('datasets.examples', { versionId: sample.version.id, search: 'FRANCE' });
    expect(page.total).toBeGreaterThan(0);
    for (const example of page.examples) {
      expect(example.messages.some((m) => m.content.toLowerCase().includes('france'))).toBe(true);
    }
    const ordinals = page.examples.map((e) => e.ordinal);
    expect(ordinals).toEqual([...ordinals].sort((a, b) => a - b));
    // Non-Latin text and letters outside ASCII match too.
    const chinese = await api.call('datasets.examples', { versionId: sample.version.id, search: '玉山' });
    expect(chinese.total).toBe(1);
    const none = await api.call('datasets.examples', {
      versionId: sample.version.id,
      search: 'zzz-not-there',
    });
    expect(none).toEqual({ total: 0, examples: [] });
    // The keys of the stored JSON are not text of the example.
    const key = await api.call('datasets.examples', { versionId: sample.version.id, search: '"role"' });
    expect(key.total).toBe(0);
  });

  it('lists only examples with issues, paged over the matches', async () => {
    const all = await api.call('datasets.examples', { versionId: rules.version.id, limit: 500 });
    const withIssues = all.examples.filter((e) => e.issues.length > 0).map((e) => e.ordinal);
    expect(withIssues.length).toBeGreaterThan(1);
    expect(withIssues.length).toBeLessThan(all.total);
    const filtered = await api.call('datasets.examples', { versionId: rules.version.id, onlyIssues: true });
    expect(filtered.total).toBe(withIssues.length);
    expect(filtered.examples.map((e) => e.ordinal)).toEqual(withIssues);
    const second = await api.call('datasets.examples', {
      versionId: rules.version.id,
      onlyIssues: true,
      offset: 1,
      limit: 1,
    });
    expect(second.examples.map((e) => e.ordinal)).toEqual([withIssues[1]]);
    const both = await api.call('datasets.examples', {
      versionId: rules.version.id,
      onlyIssues: true,
      search: 'reply',
    });
    expect(both.examples.every((e) => e.issues.length > 0)).toBe(true);
    expect(both.examples.every((e) => e.messages.some((m) => m.content.includes('reply')))).toBe(true);
  });
});

describe('datasets.preview', () => {
  it('renders an example as training sees it: reply and end token trained, special tokens marked', async () => {
    const preview = await api.call('datasets.preview', {
      versionId: sample.version.id,
      ordinal: 0,
      modelDir: demo.path,
      maxLen: 256,
    });
    expect(preview.endToken).toBe('<|im_end|>');
    expect(preview.trainedInRun).toBe(true);
    expect(preview.problem).toBeNull();
    // The model's own (Qwen3) template puts an empty thinking block before the reply.
    expect(preview.template).toBe('model');
    const trained = preview.spans.filter((s) => s.trained).map((s) => s.text);
    expect(trained.join('')).toMatch(
      /^(<think>\s*<\/think>\s*)?The capital of France is Paris\.<\|im_end\|>$/,
    );
    const special = preview.spans.filter((s) => s.special).map((s) => s.text);
    expect(special).toContain('<|im_start|>');
    expect(special).toContain('<|im_end|>');
    expect(preview.spans.find((s) => s.special && s.trained)?.text).toBe('<|im_end|>');
    expect(preview.spans.map((s) => s.text).join('')).toContain('What is the capital of France?');
    expect(preview.trainedTokens).toBeGreaterThan(0);
    expect(preview.trainedTokens).toBeLessThan(preview.tokens);
  });

  it('uses the template asked for', async () => {
    const preview = await api.call('datasets.preview', {
      versionId: sample.version.id,
      ordinal: 0,
      modelDir: demo.path,
      template: 'chatml',
    });
    expect(preview.template).toBe('chatml');
    expect(preview.spans.filter((s) => s.trained).map((s) => s.text)).toEqual([
      'The capital of France is Paris.',
      '<|im_end|>',
    ]);
  });

  it('says when the max length leaves the example out', async () => {
    const preview = await api.call('datasets.preview', {
      versionId: sample.version.id,
      ordinal: 0,
      modelDir: demo.path,
      maxLen: 16,
    });
    expect(preview.tokens).toBeGreaterThan(16);
    expect(preview.trainedInRun).toBe(false);
    expect(preview.problem).toMatch(/maximum length of 16/);
    expect(preview.spans.length).toBeGreaterThan(0);
  });

  it('answers not-found for an example the version does not have', async () => {
    const error = await api.fail('datasets.preview', {
      versionId: sample.version.id,
      ordinal: 20,
      modelDir: demo.path,
    });
    expect(error.code).toBe('not-found');
    expect(error.hint).toMatch(/1 to 20/);
  });
});

describe('datasets.lengths', () => {
  it('measures every example with the same tokens as the preview, binned up to the max length', async () => {
    const lengths = await api.call('datasets.lengths', {
      versionId: sample.version.id,
      modelDir: demo.path,
      maxLen: 64,
      bins: 10,
    });
    const previews = await Promise.all(
      Array.from({ length: 20 }, (_, ordinal) =>
        api.call('datasets.preview', {
          versionId: sample.version.id,
          ordinal,
          modelDir: demo.path,
          maxLen: 4096,
        }),
      ),
    );
    const tokens = previews.map((p) => p.tokens).sort((a, b) => a - b);
    expect(lengths.count).toBe(20);
    expect(lengths.min).toBe(tokens[0]);
    expect(lengths.max).toBe(tokens[19]);
    expect(lengths.median).toBe(tokens[9]);
    expect(lengths.overMaxLen).toBe(tokens.filter((t) => t > 64).length);
    expect(lengths.bins).toHaveLength(10);
    expect(lengths.bins.reduce((sum, b) => sum + b.count, 0)).toBe(20);
    expect(lengths.bins[0]!.from).toBe(0);
    expect(lengths.bins.at(-1)!.to).toBeGreaterThanOrEqual(Math.max(64, lengths.max));

    // Another max length re-bins the same lengths.
    const wider = await api.call('datasets.lengths', {
      versionId: sample.version.id,
      modelDir: demo.path,
      maxLen: 4096,
      bins: 8,
    });
    expect(wider.max).toBe(lengths.max);
    expect(wider.overMaxLen).toBe(0);
    expect(wider.bins.at(-1)!.to).toBeGreaterThanOrEqual(4096);
  });
});
