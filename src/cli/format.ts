// Human output of the command line: aligned tables, key/value blocks, and the units staff read (bytes, durations, times, shares).
import { formatBytes, formatMillis } from '../core/format.js';

export type Cell = string | number | null | undefined;

export interface Column<Row> {
  header: string;
  value(row: Row): Cell;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
}

/**
 * Offers and mirror names come from outside (the public offer form); a control character in
 * them must not move the cursor or recolour a staff member's terminal.
 */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\t' ? ' ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return '-';
  return clean(String(cell));
}

/** Columns a string takes in a terminal: combining marks take none, East Asian wide characters and emoji two. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (/\p{Mn}|\p{Me}|\p{Cf}/u.test(ch)) continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'right' ? fill + text : text + fill;
}

/** A table with a header line, columns two spaces apart, no trailing spaces; '-' for an empty cell. */
export function table<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((col) => cellText(col.value(row))));
  const widths = columns.map((col, i) => Math.max(displayWidth(col.header), ...cells.map((r) => displayWidth(r[i] ?? ''))));
  const line = (values: string[]) =>
    values
      .map((v, i) => pad(v, widths[i] ?? 0, columns[i]?.align ?? 'left'))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** `key   value` lines with the values aligned; undefined pairs are left out, null shows as '-'. */
export function keyValues(pairs: readonly (readonly [string, Cell] | undefined)[]): string {
  const present = pairs.filter((p): p is readonly [string, Cell] => p !== undefined && p[1] !== undefined);
  const width = Math.max(0, ...present.map(([k]) => displayWidth(k)));
  return present.map(([k, v]) => `${pad(k, width, 'left')}  ${cellText(v)}`.trimEnd()).join('\n') + '\n';
}

/** The API's JSON as scripts read it. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1 entry`, `2,000 entries`. */
export function countOf(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export { formatBytes, formatMillis };

/** A sync lag in whole seconds, as people read it; "unknown" when not measured (no trace file, or not probed yet), never blank or 0. */
export function formatLag(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return 'unknown';
  return seconds < 1 ? '0s' : formatMillis(seconds * 1000);
}

/** UTC, to the second: the same on every staff member's machine. */
export function formatTime(epochMs: number): string {
  return new Date(epochMs)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function formatAgo(epochMs: number, nowMs = Date.now()): string {
  const delta = nowMs - epochMs;
  return delta >= 0 ? `${formatMillis(delta)} ago` : `in ${formatMillis(-delta)}`;
}

export function formatPercent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** A value in one cell: objects as `key=value` pairs, cut to `max` characters. */
export function summarize(value: unknown, max = 60): string {
  let text: string;
  if (value === undefined) return '';
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    text = Object.entries(value)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
  } else {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  }
  text = clean(text);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
