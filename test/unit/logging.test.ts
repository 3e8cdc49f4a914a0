import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileLogger } from '../../main/core/logging.js';
import { tempDir } from '../helpers/cli.js';

describe('file logger', () => {
  it('writes timestamped lines with the level', () => {
    const dir = tempDir();
    const log = createFileLogger(dir, { now: () => new Date('2026-01-02T03:04:05Z') });
    log.info('started');
    log.error('two\nlines');
    expect(readFileSync(log.file, 'utf8')).toBe(
      '2026-01-02T03:04:05.000Z INFO  started\n2026-01-02T03:04:05.000Z ERROR two\n    lines\n',
    );
  });

  it('rotates by size and keeps only the newest files', () => {
    const dir = tempDir();
    const log = createFileLogger(dir, { maxBytes: 200, keep: 2 });
    for (let i = 0; i < 40; i++) log.info(`message number ${i} ${'x'.repeat(20)}`);
    expect(readFileSync(join(dir, 'tunesmith.log'), 'utf8')).toMatch(/message number 39/);
    expect(existsSync(join(dir, 'tunesmith.1.log'))).toBe(true);
    expect(existsSync(join(dir, 'tunesmith.2.log'))).toBe(true);
    expect(existsSync(join(dir, 'tunesmith.3.log'))).toBe(false);
    for (const f of ['tunesmith.log', 'tunesmith.1.log', 'tunesmith.2.log']) {
      expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(200);
    }
    // Newest first: the rotated file holds earlier messages than the current one.
    const current = Number(
      /message number (\d+)/.exec(readFileSync(join(dir, 'tunesmith.log'), 'utf8'))?.[1],
    );
    const older = Number(
      /message number (\d+)/.exec(readFileSync(join(dir, 'tunesmith.1.log'), 'utf8'))?.[1],
    );
    expect(older).toBeLessThan(current);
  });

  it('keeps going when the folder disappears', () => {
    const log = createFileLogger(join(tempDir(), 'missing', 'deeper'));
    expect(() => log.warn('nobody hears this')).not.toThrow();
  });
});
