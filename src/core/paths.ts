// Turns untrusted URL and manifest paths into safe origin paths and back into URLs, on every request.

/** Longest origin path we serve, in UTF-8 bytes of the decoded path. */
export const MAX_PATH_BYTES = 1024;

/**
 * Longest still-encoded path we look at. Three times the decoded limit, because that is
 * exactly what encodePathForUrl produces for the longest valid path (every byte as %XX);
 * a lower raw limit would refuse links we generate ourselves.
 */
export const MAX_ENCODED_PATH_LENGTH = 3 * MAX_PATH_BYTES;

export type ParsedPath = { ok: true; path: string } | { ok: false; reason: string };

// Hand-written single-pass scanners instead of regexes: this is the hot path, and a scan
// has no backtracking to exploit.

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const DOT = 0x2e;

// One shared scratch buffer: decoding is synchronous, so no two calls ever share it at once.
// Each UTF-16 unit of the raw input yields at most 3 bytes.
const scratch = new Uint8Array(MAX_ENCODED_PATH_LENGTH * 3);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** The byte a `%XX` at `i` stands for, or -1 when it is not a complete escape. */
function escapeAt(s: string, i: number): number {
  if (i + 2 >= s.length) return -1;
  const hi = hexValue(s.charCodeAt(i + 1));
  const lo = hexValue(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

/** Decodes %XX escapes and UTF-8 strictly: any malformed escape or byte sequence is a reason. */
function percentDecode(raw: string): { path: string } | { reason: string } {
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT) {
      const b = escapeAt(raw, i);
      if (b < 0) return { reason: 'bad percent-encoding' };
      // An encoded slash would make a segment boundary invisible to us but not to the
      // mirror's web server; refuse it like Apache's AllowEncodedSlashes Off does.
      if (b === SLASH) return { reason: 'encoded slash' };
      scratch[n++] = b;
      i += 2;
    } else if (c < 0x80) {
      scratch[n++] = c;
    } else if (c < 0x800) {
      scratch[n++] = 0xc0 | (c >> 6);
      scratch[n++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = raw.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return { reason: 'bad unicode' };
      const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      scratch[n++] = 0xf0 | (cp >> 18);
      scratch[n++] = 0x80 | ((cp >> 12) & 0x3f);
      scratch[n++] = 0x80 | ((cp >> 6) & 0x3f);
      scratch[n++] = 0x80 | (cp & 0x3f);
      i++;
    } else {
      scratch[n++] = 0xe0 | (c >> 12);
      scratch[n++] = 0x80 | ((c >> 6) & 0x3f);
      scratch[n++] = 0x80 | (c & 0x3f);
    }
  }
  try {
    return { path: utf8.decode(scratch.subarray(0, n)) };
  } catch {
    return { reason: 'bad UTF-8' };
  }
}

/**
 * Takes the still-percent-encoded part of a download URL after `/download/` (query removed)
 * and returns the origin path it names, or a short reason to answer 400 with.
 * `+` is a literal plus: this is a path, not a form body.
 */
export function parseDownloadPath(rawEncoded: string): ParsedPath {
  const decoded = decodeDownloadPath(rawEncoded);
  if (!decoded.ok) return decoded;
  const reason = validateOriginPath(decoded.path);
  return reason === undefined ? decoded : { ok: false, reason };
}

/**
 * parseDownloadPath's first half: length and percent-decoding, no validateOriginPath. For a caller that
 * finds the result in the file index, whose paths all passed validateOriginPath, and validates the rest.
 */
export function decodeDownloadPath(rawEncoded: string): ParsedPath {
  if (rawEncoded.length === 0) return { ok: false, reason: 'empty path' };
  if (rawEncoded.length > MAX_ENCODED_PATH_LENGTH) return { ok: false, reason: 'path too long' };
  // Without escapes there is nothing to decode; validation still catches lone surrogates.
  if (rawEncoded.indexOf('%') === -1) return { ok: true, path: rawEncoded };
  const decoded = percentDecode(rawEncoded);
  return 'reason' in decoded ? { ok: false, reason: decoded.reason } : { ok: true, path: decoded.path };
}

/**
 * True when the segment s[start, end) is `.` or `..`, also after decoding `%2e` once more:
 * a mirror or proxy that decodes again must never see a traversal either.
 */
function isDotSegment(s: string, start: number, end: number): boolean {
  let dots = 0;
  let i = start;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      i += 1;
    } else if (c === PERCENT && i + 3 <= end && escapeAt(s, i) === DOT) {
      i += 3;
    } else {
      return false;
    }
    if (++dots > 2) return false;
  }
  return dots > 0;
}

/**
 * Checks an already-decoded origin path (from a manifest, a listing, or parseDownloadPath):
 * returns why it is unacceptable, or undefined when it is fine. Paths that pass are exactly
 * those parseDownloadPath(encodePathForUrl(path)) gives back unchanged.
 */
export function validateOriginPath(path: string): string | undefined {
  const len = path.length;
  if (len === 0) return 'empty path';
  if (path.charCodeAt(0) === SLASH) return 'leading slash';
  let bytes = 0;
  let segmentStart = 0;
  for (let i = 0; i < len; i++) {
    const c = path.charCodeAt(i);
    if (c === SLASH) {
      if (i === segmentStart) return 'empty segment';
      if (isDotSegment(path, segmentStart, i)) return 'path traversal';
      segmentStart = i + 1;
      bytes += 1;
      continue;
    }
    if (c === 0) return 'NUL byte';
    if (c === BACKSLASH) return 'backslash';
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f)) return 'control character';
    if (c === PERCENT) {
      // Decoding once more must not produce a separator or NUL either.
      const b = escapeAt(path, i);
      if (b === SLASH) return 'encoded slash';
      if (b === BACKSLASH) return 'encoded backslash';
      if (b === 0) return 'encoded NUL';
      bytes += 1;
    } else if (c < 0x80) {
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = path.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return 'bad unicode';
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return 'bad unicode';
    } else {
      bytes += 3;
    }
  }
  if (segmentStart === len) return 'trailing slash';
  if (isDotSegment(path, segmentStart, len)) return 'path traversal';
  if (bytes > MAX_PATH_BYTES) return 'path too long';
  return undefined;
}

/**
 * Percent-encodes each segment as encodeURIComponent does (everything but `A-Za-z0-9-._~!'()*`)
 * and keeps the `/` between segments, for appending to a mirror's baseUrl.
 * Only for paths that pass validateOriginPath.
 */
export function encodePathForUrl(path: string): string {
  // Most paths need no escape at all (tools' downloads): then the path is its own encoding.
  if (needsNoEscape(path)) return path;
  let out = '';
  let start = 0;
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', start)) {
    out += encodeURIComponent(path.slice(start, i)) + '/';
    start = i + 1;
  }
  return out + encodeURIComponent(path.slice(start));
}

/** True when every character is one encodeURIComponent keeps (`A-Za-z0-9-._~!'()*`) or a `/`. */
function needsNoEscape(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c >= 0x80 || KEPT[c] === 0) return false;
  }
  return true;
}

const KEPT = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!'()*/") KEPT[c.charCodeAt(0)] = 1;
