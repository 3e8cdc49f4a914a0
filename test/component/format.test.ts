// The same size, count or time reads the same on every screen.
import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatNumber,
  formatPercent,
  formatRoughDuration,
} from '../../renderer/src/lib/format';

describe('format', () => {
  it('writes sizes 1024-based with three significant digits', () => {
    expect([412, 6 * 1024 ** 2, 15.62 * 1024 ** 3, 988 * 1024 ** 2].map(formatBytes)).toEqual([
      '412 bytes',
      '6.0 MB',
      '15.6 GB',
      '988 MB',
    ]);
  });

  it('writes measurements with four digits, tiny ones in e-notation, big ones with commas', () => {
    expect([1.23456, 2e-4, 123456.7, 0].map(formatNumber)).toEqual(['1.235', '2.0e-4', '123,457', '0']);
    expect(formatCount(100_000)).toBe('100,000');
    expect(formatPercent(0.666)).toBe('67%');
  });

  it('says exactly how long something took, and roughly how long it will take', () => {
    expect(formatDuration(125)).toBe('2 min 5 s');
    expect(formatRoughDuration(25 * 60)).toBe('about 25 minutes');
    expect(formatRoughDuration(30)).toBe('under a minute');
  });

  it('marks a value that is not known yet', () => {
    for (const format of [formatBytes, formatNumber, formatPercent, formatDuration, formatCount]) {
      expect(format(null)).toBe('—');
      expect(format(Number.NaN)).toBe('—');
    }
  });
});
