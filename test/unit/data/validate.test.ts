import { describe, expect, it } from 'vitest';
import type { ImportedMessage } from '../../../main/core/data/conversation.js';
import {
  checkExample,
  duplicateIssue,
  findDuplicates,
  ReportBuilder,
} from '../../../main/core/data/validate.js';

const u = (content: string): ImportedMessage => ({ role: 'user', content });
const a = (content: string): ImportedMessage => ({ role: 'assistant', content });
const rules = (messages: ImportedMessage[]) =>
  checkExample({ ordinal: 4, messages, location: { line: 9 } }).map((i) => i.rule);

describe('validation rules', () => {
  it('passes a normal example', () => {
    expect(rules([{ role: 'system', content: 's' }, u('q'), a('r')])).toEqual([]);
  });

  it('flags each problem with its rule', () => {
    expect(rules([u('q'), a('  ')])).toEqual(['empty-reply']);
    expect(rules([u('q')])).toEqual(['missing-reply']);
    expect(rules([])).toEqual(['missing-reply', 'empty-prompt']);
    expect(rules([u('q'), a('r'), u('more?')])).toEqual(['not-ending-with-reply']);
    expect(rules([u('q'), { role: 'tool', content: 'x' }, a('r')])).toEqual(['unknown-role']);
    expect(rules([u('bad \uFFFD byte'), a('r')])).toEqual(['invalid-utf8']);
    expect(rules([u(' '), a('r')])).toEqual(['empty-prompt']);
  });

  it('says which example, counted from 1, and where it came from', () => {
    const [issue] = checkExample({ ordinal: 4, messages: [u('q'), a('')], location: { line: 9 } });
    expect(issue).toMatchObject({ ordinal: 4, severity: 'error' });
    expect(issue?.message).toMatch(/^Example 5 \(line 9\) has an empty assistant reply/);
    expect(duplicateIssue(3, 0, { file: 'eval.csv', row: 2 }).message).toMatch(
      /^Example 4 \(eval\.csv, row 2\) is an exact copy of example 1/,
    );
  });

  it('finds exact duplicates by hash, pointing at the first copy', () => {
    expect(
      findDuplicates([
        { ordinal: 0, hash: 'a' },
        { ordinal: 1, hash: 'b' },
        { ordinal: 2, hash: 'a' },
        { ordinal: 3, hash: 'a' },
      ]),
    ).toEqual([
      { ordinal: 2, firstOrdinal: 0 },
      { ordinal: 3, firstOrdinal: 0 },
    ]);
  });

  it('sums a report: counts by rule, blocking examples once each, the first issues in full', () => {
    const builder = new ReportBuilder(2);
    const examples: ImportedMessage[][] = [
      [u('q'), a('r')],
      [u('q')],
      [u(''), { role: 'x', content: '' }],
      [u('q'), a('')],
    ];
    examples.forEach((messages, ordinal) => {
      builder.countExample();
      builder.add(checkExample({ ordinal, messages }));
    });
    const report = builder.build();
    expect(report.exampleCount).toBe(4);
    expect(report.blockingCount).toBe(3);
    expect(report.blockingOrdinals).toEqual([1, 2]);
    expect(report.byRule['missing-reply']).toEqual({ severity: 'error', count: 2 });
    expect(report.errorCount).toBe(4);
    expect(report.warningCount).toBe(1);
    expect(report.issues).toHaveLength(2);
    expect(report.truncated).toBe(true);
  });
});
