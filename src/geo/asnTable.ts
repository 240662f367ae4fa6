// Address → autonomous system number from ip-location-db's ASN CSV files, held as sorted ranges in typed arrays.

import ipaddr from 'ipaddr.js';
import { ipv4Number } from './clientAddress.js';

/*
 * @ip-location-db/asn ships CSV only ("start,end,asn,organisation", one inclusive range a line,
 * ascending): no .mmdb. 412k IPv4 and 103k IPv6 ranges fit in ~8 MiB as typed arrays, and a
 * binary search over them answers in well under a microsecond, so no tree is built.
 * No node:* imports: the caller reads the files.
 */

/** One address family's ranges: `width` 32-bit words per address (1 for IPv4, 4 for IPv6). */
interface Ranges {
  width: 1 | 4;
  starts: Uint32Array;
  ends: Uint32Array;
  asns: Uint32Array;
  count: number;
}

export interface AsnTableStats {
  ipv4Ranges: number;
  ipv6Ranges: number;
  /** Lines that were not a range with an ASN (a header, a bad address): skipped, not fatal. */
  skippedLines: number;
}

export class AsnTable {
  private constructor(
    private readonly v4: Ranges,
    private readonly v6: Ranges,
    readonly stats: AsnTableStats,
  ) {}

  /**
   * Build from the CSV files' bytes: IPv4 as integers (asn-ipv4-num.csv) or dotted (asn-ipv4.csv),
   * IPv6 as text (asn-ipv6.csv). Bytes, not strings: 30 MiB of text never becomes a string, so
   * what is left after loading is the table. Throws when a file holds no range at all (a truncated
   * or wrong file).
   */
  static fromCsv(ipv4Csv: Uint8Array, ipv6Csv: Uint8Array): AsnTable {
    const skipped = { lines: 0 };
    const v4 = parseRanges(ipv4Csv, 1, skipped);
    const v6 = parseRanges(ipv6Csv, 4, skipped);
    if (v4.count === 0 || v6.count === 0) throw new Error(`ASN CSV without ranges (IPv4 ${v4.count}, IPv6 ${v6.count})`);
    return new AsnTable(v4, v6, { ipv4Ranges: v4.count, ipv6Ranges: v6.count, skippedLines: skipped.lines });
  }

  /** The ASN announcing a canonical address (as normalizeAddress writes it), or undefined. */
  lookup(ip: string): number | undefined {
    const n = ipv4Number(ip);
    if (n >= 0) {
      KEY[0] = n;
      return find(this.v4, KEY);
    }
    if (ip.length > TEXT.length) return undefined;
    for (let i = 0; i < ip.length; i++) {
      const c = ip.charCodeAt(i);
      if (c > 0x7f) return undefined;
      TEXT[i] = c;
    }
    return parseIpv6(TEXT, 0, ip.length, KEY, 0) || parseIpv6Slow(ip, KEY, 0) ? find(this.v6, KEY) : undefined;
  }
}

// Scratch space: lookups are synchronous, so it is never shared between two at once.
const KEY = new Uint32Array(4);
const TEXT = new Uint8Array(64);

function find(r: Ranges, key: Uint32Array): number | undefined {
  // The last range starting at or before key; it holds key when key is not past its end.
  let lo = 0;
  let hi = r.count - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(r.starts, mid * r.width, key, 0, r.width) <= 0) {
      at = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (at < 0 || compare(r.ends, at * r.width, key, 0, r.width) < 0) return undefined;
  return r.asns[at];
}

/** Sign of a[ai..ai+width) − b[bi..bi+width), as unsigned big-endian numbers. */
function compare(a: Uint32Array, ai: number, b: Uint32Array, bi: number, width: number): number {
  for (let i = 0; i < width; i++) {
    const x = a[ai + i]!;
    const y = b[bi + i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

const NL = 0x0a;
const COMMA = 0x2c;

function parseRanges(csv: Uint8Array, width: 1 | 4, skipped: { lines: number }): Ranges {
  let lines = 1;
  for (let i = 0; i < csv.length; i++) if (csv[i] === NL) lines++;
  let starts = new Uint32Array(lines * width);
  let ends = new Uint32Array(lines * width);
  let asns = new Uint32Array(lines);
  let count = 0;
  let sorted = true;
  const len = csv.length;
  for (let pos = 0; pos < len;) {
    // The first three comma positions and the end of the line, in one scan (typed-array indexOf per field costs more).
    let c1 = -1;
    let c2 = -1;
    let c3 = -1;
    let eol = pos;
    for (; eol < len; eol++) {
      const c = csv[eol];
      if (c === NL) break;
      if (c === COMMA && c3 < 0) {
        if (c1 < 0) c1 = eol;
        else if (c2 < 0) c2 = eol;
        else c3 = eol;
      }
    }
    if (c3 < 0) c3 = eol;
    const asn = c2 > 0 ? decimal(csv, c2 + 1, c3) : -1;
    if (
      asn > 0 &&
      asn <= 0xffffffff &&
      address(csv, pos, c1, width, starts, count * width) &&
      address(csv, c1 + 1, c2, width, ends, count * width) &&
      compare(ends, count * width, starts, count * width, width) >= 0
    ) {
      asns[count] = asn;
      if (count > 0 && compare(starts, (count - 1) * width, starts, count * width, width) > 0) sorted = false;
      count++;
    } else if (eol > pos && !(eol === pos + 1 && csv[pos] === 0x0d)) {
      skipped.lines++;
    }
    pos = eol + 1;
  }
  if (!sorted) ({ starts, ends, asns } = sortByStart(starts, ends, asns, count, width));
  // Views, not copies: the arrays were sized by lines, and nearly every line is a range.
  return { width, starts: starts.subarray(0, count * width), ends: ends.subarray(0, count * width), asns: asns.subarray(0, count), count };
}

/** The files are sorted; a future one that is not still works, at the cost of this sort. */
function sortByStart(starts: Uint32Array, ends: Uint32Array, asns: Uint32Array, count: number, width: number) {
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => compare(starts, a * width, starts, b * width, width));
  const s = new Uint32Array(count * width);
  const e = new Uint32Array(count * width);
  const n = new Uint32Array(count);
  order.forEach((from, to) => {
    s.set(starts.subarray(from * width, from * width + width), to * width);
    e.set(ends.subarray(from * width, from * width + width), to * width);
    n[to] = asns[from]!;
  });
  return { starts: s, ends: e, asns: n };
}

/** Unsigned decimal in b[from, to), or -1. */
function decimal(b: Uint8Array, from: number, to: number): number {
  if (to <= from || to - from > 10) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** One address field into out[at..at+width): IPv4 as a number or dotted, IPv6 as text. */
function address(b: Uint8Array, from: number, to: number, width: 1 | 4, out: Uint32Array, at: number): boolean {
  if (from >= to) return false;
  if (width === 1) {
    const v = decimal(b, from, to);
    if (v < 0) {
      // Dotted (asn-ipv4.csv) rather than a number (asn-ipv4-num.csv).
      const dotted = ipv4Number(latin1(b, from, to));
      if (dotted < 0) return false;
      out[at] = dotted;
      return true;
    }
    if (v > 0xffffffff) return false;
    out[at] = v;
    return true;
  }
  return parseIpv6(b, from, to, out, at) || parseIpv6Slow(latin1(b, from, to), out, at);
}

function latin1(b: Uint8Array, from: number, to: number): string {
  return to - from > 64 ? '' : String.fromCharCode(...b.subarray(from, to));
}

const GROUPS = new Uint16Array(8);

/**
 * Hex-and-colons IPv6 in the bytes s[from, to) into four words at out[at..]: the whole load parses
 * 206k of these, so by hand rather than through ipaddr.js objects. Anything else (an embedded
 * IPv4, a zone) answers false, and the caller asks ipaddr.js.
 */
export function parseIpv6(s: Uint8Array, from: number, to: number, out: Uint32Array, at: number): boolean {
  let n = 0;
  let gap = -1;
  let i = from;
  if (to - from >= 2 && s[i] === 0x3a && s[i + 1] === 0x3a) {
    gap = 0;
    i += 2;
  }
  while (i < to) {
    let value = 0;
    let digits = 0;
    for (; i < to && digits < 5; i++) {
      const c = s[i]!;
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
    }
    if (digits === 0 || digits > 4 || n === 8) return false;
    GROUPS[n++] = value;
    if (i === to) break;
    if (s[i] !== 0x3a) return false;
    i++;
    if (i < to && s[i] === 0x3a) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === to) {
      return false;
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n;
  for (let w = 0; w < 4; w++) {
    const hi = group(2 * w, gap, zeros);
    const lo = group(2 * w + 1, gap, zeros);
    out[at + w] = ((hi << 16) | lo) >>> 0;
  }
  return true;
}

/** Group k of the eight, with `zeros` zero groups inserted at the "::" gap. */
function group(k: number, gap: number, zeros: number): number {
  if (gap < 0 || k < gap) return GROUPS[k]!;
  if (k < gap + zeros) return 0;
  return GROUPS[k - zeros]!;
}

function parseIpv6Slow(text: string, out: Uint32Array, at: number): boolean {
  if (!text.includes(':') || !ipaddr.IPv6.isValid(text)) return false;
  const parts = ipaddr.IPv6.parse(text).parts;
  for (let w = 0; w < 4; w++) out[at + w] = ((parts[2 * w]! << 16) | parts[2 * w + 1]!) >>> 0;
  return true;
}
