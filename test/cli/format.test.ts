// The CLI's human output: aligned tables whatever the script, safe against control characters, units people read.
import { describe, expect, it } from 'vitest';
import { describeChange } from '../../src/cli/commands/reports.js';
import { clean, displayWidth, formatBytes, formatMillis, formatPercent, formatTime, keyValues, summarize, table } from '../../src/cli/format.js';

describe('table', () => {
  it('aligns columns by display width, right-aligns numbers, and writes - for empty cells', () => {
    const rows = [
      { id: 'a', name: '北京 Mirror', weight: 5 },
      { id: 'longer-id', name: 'Ünïcode', weight: 1000 },
      { id: 'c', name: null, weight: 0 },
    ];
    const text = table(rows, [
      { header: 'ID', value: (r) => r.id },
      { header: 'WEIGHT', value: (r) => r.weight, align: 'right' },
      { header: 'NAME', value: (r) => r.name },
    ]);
    expect(text).toBe(['ID         WEIGHT  NAME', 'a               5  北京 Mirror', 'longer-id    1000  Ünïcode', 'c               0  -', ''].join('\n'));
  });

  it('escapes control characters so outside text cannot drive the terminal', () => {
    expect(clean('Evil\u001b[31mCorp\nline')).toBe('Evil\\x1b[31mCorp\\x0aline');
    expect(table([{ v: 'a\u009bb' }], [{ header: 'V', value: (r) => r.v }])).toBe('V\na\\x9bb\n');
  });

  it('counts wide and combining characters as the terminal does', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('北京')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
  });
});

describe('units', () => {
  it('formats durations with their two largest units', () => {
    expect(formatMillis(250)).toBe('250ms');
    expect(formatMillis(45_000)).toBe('45s');
    expect(formatMillis(600_000)).toBe('10m');
    expect(formatMillis(5_400_000)).toBe('1h 30m');
    expect(formatMillis(3 * 86_400_000 + 2 * 3_600_000)).toBe('3d 2h');
  });

  it('formats bytes in decimal units, times in UTC, shares as percentages', () => {
    expect(formatBytes(500)).toBe('500 B');
    expect(formatBytes(3_000_000)).toBe('3.00 MB');
    expect(formatBytes(12_345_678_901)).toBe('12.3 GB');
    expect(formatTime(Date.UTC(2026, 0, 31, 12, 5, 9, 123))).toBe('2026-01-31 12:05:09Z');
    expect(formatPercent(2 / 3)).toBe('66.7%');
  });

  it('summarizes a change as key=value pairs, cut to fit a cell', () => {
    expect(summarize({ weight: 50, enabled: false })).toBe('weight=50 enabled=false');
    expect(summarize({ note: 'x'.repeat(100) }, 20)).toBe(`note=${'x'.repeat(14)}…`);
    expect(summarize(undefined)).toBe('');
  });

  it('keyValues aligns values and leaves out undefined pairs', () => {
    expect(keyValues([['id', 'a'], ['base URL', 'https://a.example/'], undefined, ['lag', null], ['gone', undefined]])).toBe(
      'id        a\nbase URL  https://a.example/\nlag       -\n',
    );
  });
});

describe("audit's CHANGE column", () => {
  const entry = { id: 'e1', at: 0, actor: 'ops', target: 'mirror:m' };
  it('reads before → after for the fields both sides name, and "removed" for a delete (not "null")', () => {
    expect(describeChange({ ...entry, action: 'mirror.update', before: { weight: 100 }, after: { weight: 50 } })).toBe('weight: 100 → 50');
    expect(describeChange({ ...entry, action: 'mirror.delete', before: { id: 'm', weight: 100 }, after: null })).toBe('removed');
  });
});
