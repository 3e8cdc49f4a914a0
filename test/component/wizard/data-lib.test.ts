// The data step's plain logic: which rows are in view, the mapping text, the edits a save sends.
import { describe, expect, it } from 'vitest';
import { DatasetEdits } from '../../../renderer/src/lib/dataset-edits.svelte';
import { columnsFromMessage, mapText, readMapping } from '../../../renderer/src/lib/mapping';
import { maxLenOf } from '../../../renderer/src/lib/max-len';
import { cellsOf, messagesOf } from '../../../renderer/src/lib/simple-example';
import { visibleRange } from '../../../renderer/src/lib/virtual-window';
import { example } from '../fixtures';

describe('visibleRange', () => {
  it('covers the rows in view plus the overscan, clamped to the list', () => {
    expect(
      visibleRange({ scrollTop: 0, viewportHeight: 400, rowHeight: 40, count: 1000, overscan: 2 }),
    ).toEqual({
      start: 0,
      end: 12,
    });
    expect(
      visibleRange({ scrollTop: 4000, viewportHeight: 400, rowHeight: 40, count: 1000, overscan: 2 }),
    ).toEqual({
      start: 98,
      end: 112,
    });
    expect(visibleRange({ scrollTop: 39_900, viewportHeight: 400, rowHeight: 40, count: 1000 }).end).toBe(
      1000,
    );
    expect(visibleRange({ scrollTop: 0, viewportHeight: 400, rowHeight: 40, count: 0 })).toEqual({
      start: 0,
      end: 0,
    });
  });
});

describe('mapping', () => {
  it('reads the import mapping and writes it as the map option', () => {
    const mapping = readMapping({
      kind: 'columns',
      system: 'sys',
      user: ['instruction', 'input'],
      assistant: 'output',
    });
    expect(mapping && mapText(mapping)).toBe('system=sys,user=instruction+input,assistant=output');
    expect(mapText({ kind: 'messages', field: 'conversations' })).toBe('messages=conversations');
    expect(readMapping({ kind: 'columns', user: 'q' })).toBeNull();
    expect(readMapping(null)).toBeNull();
  });

  it('offers the columns an import error names', () => {
    expect(
      columnsFromMessage(
        'a.csv: Tunesmith could not tell which column holds the reply. Its columns are: q, a b, c.',
      ),
    ).toEqual(['q', 'a b', 'c']);
    expect(columnsFromMessage('Something else went wrong.')).toEqual([]);
  });
});

describe('the editor cells and edits', () => {
  it('shows a system/question/reply example as cells and back, and longer talks as turns', () => {
    const three = [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'U' },
      { role: 'assistant', content: 'A' },
    ];
    expect(cellsOf(three)).toEqual({ system: 'S', user: 'U', assistant: 'A' });
    expect(messagesOf({ system: '', user: 'U', assistant: 'A' })).toEqual(three.slice(1));
    expect(cellsOf([...three, { role: 'user', content: 'more' }])).toBeNull();
  });

  it('sends only real changes, and no update for a deleted example', () => {
    const edits = new DatasetEdits();
    const first = example(0);
    const second = example(1);
    edits.change(first, [...first.messages.slice(0, 1), { role: 'assistant', content: 'new' }]);
    edits.change(second, [...second.messages.slice(0, 1), { role: 'assistant', content: 'x' }]);
    edits.change(second, second.messages); // typed back to what it was
    expect(edits.count).toBe(1);
    edits.toggleRemoved(0);
    edits.toggleRemoved(5);
    expect(edits.toRequest()).toEqual({ remove: [0, 5] });
    edits.toggleRemoved(0);
    expect(edits.toRequest().update).toEqual([
      { ordinal: 0, messages: [first.messages[0], { role: 'assistant', content: 'new' }] },
    ]);
  });
});

describe('maxLenOf', () => {
  it('takes a maxLen override, else the preset', () => {
    expect(maxLenOf({ preset: 'quick', overrides: [] })).toBe(2048);
    expect(maxLenOf({ preset: 'thorough', overrides: ['lr=1e-4', 'maxLen=512'] })).toBe(512);
  });
});
