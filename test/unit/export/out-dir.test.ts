// The default folder of a run's export: named after the run and the format, numbered when taken.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultExportDir } from '../../../main/core/export/out-dir.js';

describe('defaultExportDir', () => {
  it('names the folder after the run and the format', () => {
    expect(defaultExportDir('/home/exports', 12, 'ollama', () => false)).toBe(
      path.join('/home/exports', 'run-12-ollama'),
    );
  });

  it('numbers it from 2 when taken, skipping every taken number', () => {
    const taken = new Set(['run-3-peft', 'run-3-peft-2', 'run-3-peft-3'].map((d) => path.join('/x', d)));
    expect(defaultExportDir('/x', 3, 'peft', (d) => taken.has(d))).toBe(path.join('/x', 'run-3-peft-4'));
    // Another run's or another format's folders do not matter.
    expect(defaultExportDir('/x', 4, 'peft', (d) => taken.has(d))).toBe(path.join('/x', 'run-4-peft'));
    expect(defaultExportDir('/x', 3, 'gguf-adapter', (d) => taken.has(d))).toBe(
      path.join('/x', 'run-3-gguf-adapter'),
    );
  });
});
