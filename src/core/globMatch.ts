// Content globs compiled to matchers that never backtrack: one pass over the path, work bounded by path × pattern size.
//
// picomatch turns a glob into a JavaScript regular expression, and V8 matches those by backtracking:
// "**/*?*?*?*?*?*?*?*?Z" took minutes per path. Here a glob is a small automaton simulated over the
// path (a set of live states, never a choice to undo), on two levels: segments of the path against
// the glob's segments ("**" loops over whole segments), and characters of one segment against a
// segment pattern ("*" loops over characters). Nothing here is exponential in anything.
//
// The dialect (what configs, the admin API and stored state may hold):
//   *          any run of characters within a segment        ?      one character, not "/"
//   **         as a whole segment: any number of segments (none included); inside a segment it is *
//   [abc] [a-z] [!a] [^a] [[:alpha:]]   one character of a class (never "/")
//   {a,b}      alternatives (nestable, may hold "/"); {1..5} a numeric range
//   a|b        alternatives of whole globs (picomatch reads "|" so; kept for configs written for it)
//   !glob      a leading "!" negates the glob
//   \x         x itself
// Parentheses are plain characters ("Städte (2026)/**"); extglobs (@(…) +(…) *(…) ?(…) !(…)) are not part of it.

/** What a glob may cost, checked before one is saved (config, admin API, store reload). */
export const GLOB_LIMITS = {
  /** Characters in one glob. */
  maxLength: 256,
  /** Whole-glob alternatives after expanding {…} and "|". */
  maxAlternatives: 32,
  /** Segments of one alternative. */
  maxSegments: 32,
  /** Wildcards (*, ?, […]) in one alternative. */
  maxWildcards: 64,
  /** Work units a glob may spend on the probe paths (see globCost), summed. */
  maxProbeCost: 400_000,
} as const;

export type GlobMatcher = (path: string) => boolean;

/** A parsed glob: alternatives (any matches), optionally negated. */
interface CompiledGlob {
  negated: boolean;
  alternatives: Alternative[];
}

// ---------------------------------------------------------------------------------------------
// Parsing

class GlobSyntaxError extends Error {}

/**
 * The reason a glob is not in the dialect or over a limit, or undefined when it may be saved.
 * Pure and deterministic: every instance accepts and rejects alike.
 */
export function globProblem(glob: string): string | undefined {
  if (glob.length === 0) return 'must not be empty';
  if (glob.length > GLOB_LIMITS.maxLength) return `is longer than ${GLOB_LIMITS.maxLength} characters`;
  let compiled: CompiledGlob;
  try {
    compiled = parseGlob(glob, true);
  } catch (err) {
    if (err instanceof GlobSyntaxError) return err.message;
    throw err;
  }
  const cost = costOf(compiled, PROBE_PATHS);
  if (cost > GLOB_LIMITS.maxProbeCost) return `is too costly to match (${cost} work units on the probe paths, at most ${GLOB_LIMITS.maxProbeCost})`;
  return undefined;
}

/** A glob as a predicate in linear time. Never throws: a glob outside the dialect (never validated) matches nothing. */
export function linearGlob(glob: string): GlobMatcher {
  return compileLinearGlob(glob) ?? (() => false);
}

/** The glob's matcher, or undefined when it is outside the dialect (a rule set holding one then covers nothing). */
export function compileLinearGlob(glob: string): GlobMatcher | undefined {
  try {
    return matcherOf(parseGlob(glob, false));
  } catch (err) {
    if (err instanceof GlobSyntaxError) return undefined;
    throw err;
  }
}

/** Work units (segment steps plus character-state steps) a glob spends matching `paths`: deterministic, unlike a clock. */
export function globCost(glob: string, paths: readonly string[] = PROBE_PATHS): number {
  return costOf(parseGlob(glob, false), paths);
}

function parseGlob(glob: string, strict: boolean): CompiledGlob {
  if (glob.length > GLOB_LIMITS.maxLength * 4) throw new GlobSyntaxError(`is longer than ${GLOB_LIMITS.maxLength} characters`);
  let body = glob;
  let negated = false;
  while (body.startsWith('!') && !body.startsWith('!(')) {
    negated = !negated;
    body = body.slice(1);
  }
  if (strict) checkStrict(body);
  else if (/(^|[^\\])[@!+*?]\(/.test(body)) throw new GlobSyntaxError('extglobs are not supported');
  const budget = { left: GLOB_LIMITS.maxAlternatives };
  const texts = splitTopLevel(body).flatMap((part) => expandBraces(part, budget));
  if (texts.length > GLOB_LIMITS.maxAlternatives) {
    throw new GlobSyntaxError(`expands to more than ${GLOB_LIMITS.maxAlternatives} alternatives`);
  }
  return { negated, alternatives: texts.map((text) => parseAlternative(text, strict)) };
}

/** What only validation refuses (compiling treats these as literal text, as picomatch mostly does). */
function checkStrict(body: string): void {
  if (/[@!+*?]\(/.test(body))
    throw new GlobSyntaxError('extglobs (@(…), !(…), +(…), *(…), ?(…)) are not supported; use {a,b} (or "\\(" for a literal parenthesis)');
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '\\') {
      if (i + 1 >= body.length) throw new GlobSyntaxError('ends in a lone "\\"');
      i++;
    } else if (ch === '[') {
      const end = classEnd(body, i);
      if (end < 0) throw new GlobSyntaxError('has a "[" without its "]" (a class cannot hold "/")');
      i = end;
    } else if (ch === '{') depth++;
    else if (ch === '}') {
      if (depth === 0) throw new GlobSyntaxError('has a "}" without its "{"');
      depth--;
    } else if (ch === '|' && depth > 0) throw new GlobSyntaxError('"|" inside {…}: separate alternatives with ","');
  }
  if (depth > 0) throw new GlobSyntaxError('has a "{" without its "}"');
  for (const segment of body.split('/')) {
    if (segment === '.' || segment === '..') throw new GlobSyntaxError('must not have "." or ".." segments');
  }
}

/** Splits on "|" outside […] and {…}. */
function splitTopLevel(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '\\') i++;
    else if (ch === '[') {
      const end = classEnd(body, i);
      if (end > 0) i = end;
    } else if (ch === '{') depth++;
    else if (ch === '}' && depth > 0) depth--;
    else if (ch === '|' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

/** Index of the "]" closing the class opened at `open`, or -1. */
function classEnd(text: string, open: number): number {
  let i = open + 1;
  if (text[i] === '!' || text[i] === '^') i++;
  if (text[i] === ']') i++;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') i++;
    else if (ch === '[' && text[i + 1] === ':') {
      const close = text.indexOf(':]', i + 2);
      if (close > 0) i = close + 1;
    } else if (ch === ']') return i;
    else if (ch === '/') return -1;
  }
  return -1;
}

/** Expands the first {…} holding a "," or a numeric range, recursively; "{a}" and "{}" stay literal. */
function expandBraces(text: string, budget = { left: GLOB_LIMITS.maxAlternatives }): string[] {
  const brace = firstBrace(text);
  if (!brace) {
    if (--budget.left < 0) throw new GlobSyntaxError(`expands to more than ${GLOB_LIMITS.maxAlternatives} alternatives`);
    return [text];
  }
  const { open, close, options } = brace;
  return options.flatMap((option) => expandBraces(text.slice(0, open) + option + text.slice(close + 1), budget));
}

function firstBrace(text: string): { open: number; close: number; options: string[] } | undefined {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '[') {
      const end = classEnd(text, i);
      if (end > 0) i = end;
      continue;
    }
    if (ch !== '{') continue;
    // Find its "}" and the top-level commas inside.
    let depth = 0;
    const commas: number[] = [];
    for (let j = i + 1; j < text.length; j++) {
      const c = text[j];
      if (c === '\\') j++;
      else if (c === '[') {
        const end = classEnd(text, j);
        if (end > 0) j = end;
      } else if (c === '{') depth++;
      else if (c === '}') {
        if (depth > 0) {
          depth--;
          continue;
        }
        const inner = text.slice(i + 1, j);
        if (commas.length > 0) {
          const options: string[] = [];
          let from = i + 1;
          for (const k of commas) {
            options.push(text.slice(from, k));
            from = k + 1;
          }
          options.push(text.slice(from, j));
          return { open: i, close: j, options };
        }
        const range = /^(-?\d{1,6})\.\.(-?\d{1,6})$/.exec(inner);
        if (range) {
          const from = Number(range[1]);
          const to = Number(range[2]);
          if (Math.abs(to - from) >= GLOB_LIMITS.maxAlternatives) {
            throw new GlobSyntaxError(`expands to more than ${GLOB_LIMITS.maxAlternatives} alternatives`);
          }
          const step = from <= to ? 1 : -1;
          const options: string[] = [];
          for (let n = from; n !== to + step; n += step) options.push(String(n));
          return { open: i, close: j, options };
        }
        break; // "{a}", "{}": literal; look for a later brace
      } else if (c === ',' && depth === 0) commas.push(j);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// One alternative: segments

const enum SegmentKind {
  /** "**": any number of whole segments. */
  Globstar,
  /** Plain text. */
  Literal,
  /** "*" alone: any non-empty segment. */
  Any,
  /** Anything else: a character automaton. */
  Pattern,
}

interface Segment {
  kind: SegmentKind;
  literal: string;
  pattern: SegmentPattern | undefined;
}

interface Alternative {
  segments: Segment[];
  /** Live-state flags by segment number (0..segments.length), reused across calls. */
  live: Uint8Array;
  next: Uint8Array;
}

function parseAlternative(text: string, strict: boolean): Alternative {
  const raw = splitSegments(text);
  if (strict && raw.length > GLOB_LIMITS.maxSegments) throw new GlobSyntaxError(`has more than ${GLOB_LIMITS.maxSegments} segments`);
  let wildcards = 0;
  const segments: Segment[] = [];
  for (const part of raw) {
    if (part === '**') {
      // "**/**" is one "**".
      if (segments.at(-1)?.kind !== SegmentKind.Globstar) segments.push({ kind: SegmentKind.Globstar, literal: '', pattern: undefined });
      wildcards++;
      continue;
    }
    const atoms = parseAtoms(part);
    wildcards += atoms.filter((a) => a.kind !== AtomKind.Char).length;
    if (atoms.every((a) => a.kind === AtomKind.Char)) {
      segments.push({ kind: SegmentKind.Literal, literal: atoms.map((a) => String.fromCodePoint(a.code)).join(''), pattern: undefined });
    } else if (atoms.length === 1 && atoms[0]!.kind === AtomKind.Star) {
      segments.push({ kind: SegmentKind.Any, literal: '', pattern: undefined });
    } else {
      segments.push({ kind: SegmentKind.Pattern, literal: '', pattern: compileSegment(atoms) });
    }
  }
  if (strict && wildcards > GLOB_LIMITS.maxWildcards) throw new GlobSyntaxError(`has more than ${GLOB_LIMITS.maxWildcards} wildcards`);
  return { segments, live: new Uint8Array(segments.length + 1), next: new Uint8Array(segments.length + 1) };
}

/** Splits on "/" outside […]. */
function splitSegments(text: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') i++;
    else if (ch === '[') {
      const end = classEnd(text, i);
      if (end > 0) i = end;
    } else if (ch === '/') {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Within a segment: characters

const enum AtomKind {
  Char,
  /** "?": any one character. */
  AnyChar,
  Class,
  /** "*": any run of characters. */
  Star,
}

interface Atom {
  kind: AtomKind;
  code: number;
  cls: CharClass | undefined;
}

interface CharClass {
  negated: boolean;
  ranges: number[];
  posix: ((code: number) => boolean)[];
}

const POSIX: Record<string, (c: number) => boolean> = {
  alpha: (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  digit: (c) => c >= 48 && c <= 57,
  alnum: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  upper: (c) => c >= 65 && c <= 90,
  lower: (c) => c >= 97 && c <= 122,
  space: (c) => c === 32 || (c >= 9 && c <= 13),
  xdigit: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102),
  punct: (c) => (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126),
  word: (c) => c === 95 || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
};

function parseAtoms(part: string): Atom[] {
  const atoms: Atom[] = [];
  const push = (atom: Atom) => {
    // "**" inside a segment is "*"; runs of "*" are one.
    if (atom.kind === AtomKind.Star && atoms.at(-1)?.kind === AtomKind.Star) return;
    atoms.push(atom);
  };
  for (let i = 0; i < part.length;) {
    const code = part.codePointAt(i)!;
    const width = code > 0xffff ? 2 : 1;
    const ch = part[i];
    if (ch === '\\' && i + 1 < part.length) {
      const escaped = part.codePointAt(i + 1)!;
      push({ kind: AtomKind.Char, code: escaped, cls: undefined });
      i += 1 + (escaped > 0xffff ? 2 : 1);
    } else if (ch === '*') {
      push({ kind: AtomKind.Star, code: 0, cls: undefined });
      i++;
    } else if (ch === '?') {
      push({ kind: AtomKind.AnyChar, code: 0, cls: undefined });
      i++;
    } else if (ch === '[' && classEnd(part, i) > 0) {
      const end = classEnd(part, i);
      const cls = parseClass(part.slice(i + 1, end));
      if (cls) push({ kind: AtomKind.Class, code: 0, cls });
      else throw new GlobSyntaxError(`unknown character class in "${part.slice(i, end + 1)}"`);
      i = end + 1;
    } else {
      push({ kind: AtomKind.Char, code, cls: undefined });
      i += width;
    }
  }
  return atoms;
}

function parseClass(body: string): CharClass | undefined {
  const cls: CharClass = { negated: false, ranges: [], posix: [] };
  let i = 0;
  if (body[0] === '!' || body[0] === '^') {
    cls.negated = true;
    i = 1;
  }
  const chars: number[] = [];
  for (; i < body.length;) {
    if (body[i] === '[' && body[i + 1] === ':') {
      const close = body.indexOf(':]', i + 2);
      const test = close > 0 ? POSIX[body.slice(i + 2, close)] : undefined;
      if (!test) return undefined;
      cls.posix.push(test);
      i = close + 2;
      continue;
    }
    let code: number;
    if (body[i] === '\\' && i + 1 < body.length) i++;
    code = body.codePointAt(i)!;
    i += code > 0xffff ? 2 : 1;
    if (body[i] === '-' && i + 1 < body.length) {
      let j = i + 1;
      if (body[j] === '\\' && j + 1 < body.length) j++;
      const to = body.codePointAt(j)!;
      cls.ranges.push(Math.min(code, to), Math.max(code, to));
      i = j + (to > 0xffff ? 2 : 1);
    } else chars.push(code);
  }
  for (const c of chars) cls.ranges.push(c, c);
  return cls;
}

function classHas(cls: CharClass, code: number): boolean {
  let hit = false;
  for (let r = 0; r < cls.ranges.length && !hit; r += 2) hit = code >= cls.ranges[r]! && code <= cls.ranges[r + 1]!;
  for (let p = 0; p < cls.posix.length && !hit; p++) hit = cls.posix[p]!(code);
  return hit !== cls.negated && code !== SLASH;
}

const SLASH = 0x2f;

/**
 * A segment pattern as a chain of states: state i waits for atom i; the last state accepts. A "*"
 * state stays on any character and may be passed without one. Up to 31 atoms the live states are
 * one 32-bit word and a character costs a handful of operations; longer patterns use a flag array.
 */
interface SegmentPattern {
  atoms: Atom[];
  /** Per ASCII code: the atoms a character moves past (bit i = atom i). Word form only. */
  advance: Int32Array | undefined;
  /** Atoms that are "*". */
  stars: number;
  /** Bit of the accepting state. */
  accept: number;
  live: Uint8Array;
  next: Uint8Array;
}

const WORD_ATOMS = 31;

function compileSegment(atoms: Atom[]): SegmentPattern {
  const pattern: SegmentPattern = {
    atoms,
    advance: undefined,
    stars: 0,
    accept: 0,
    live: new Uint8Array(atoms.length + 1),
    next: new Uint8Array(atoms.length + 1),
  };
  if (atoms.length <= WORD_ATOMS) {
    const advance = new Int32Array(128);
    atoms.forEach((atom, i) => {
      if (atom.kind === AtomKind.Star) pattern.stars |= 1 << i;
      for (let c = 0; c < 128; c++) if (atomTakes(atom, c)) advance[c]! |= 1 << i;
    });
    pattern.advance = advance;
    pattern.accept = 1 << atoms.length;
  }
  return pattern;
}

/** Whether `atom` moves past character `code` (a "*" stays instead). */
function atomTakes(atom: Atom, code: number): boolean {
  switch (atom.kind) {
    case AtomKind.Char:
      return atom.code === code;
    case AtomKind.AnyChar:
      return code !== SLASH;
    case AtomKind.Class:
      return classHas(atom.cls!, code);
    case AtomKind.Star:
      return false;
  }
}

/** Adds the states reachable without a character: past every "*" in a row. */
function closeStars(live: number, stars: number): number {
  for (;;) {
    const more = live | ((live & stars) << 1);
    if (more === live) return live;
    live = more;
  }
}

const costMeter = { units: 0, on: false };

/** Whether `path[start, end)` (one segment) matches the pattern. */
function segmentMatches(p: SegmentPattern, path: string, start: number, end: number): boolean {
  if (p.advance) {
    const advance = p.advance;
    const stars = p.stars;
    let live = closeStars(1, stars);
    for (let i = start; i < end; i++) {
      let code = path.charCodeAt(i);
      let adv: number;
      if (code < 128) adv = advance[code]!;
      else {
        // A surrogate pair is one character, as in the glob.
        if (code >= 0xd800 && code <= 0xdbff && i + 1 < end) {
          code = path.codePointAt(i)!;
          i++;
        }
        adv = 0;
        for (let a = 0; a < p.atoms.length; a++) if (atomTakes(p.atoms[a]!, code)) adv |= 1 << a;
      }
      live = closeStars(((live & adv) << 1) | (live & stars), stars);
      if (costMeter.on) costMeter.units++;
      if (live === 0) return false;
    }
    return (live & p.accept) !== 0;
  }
  // Long patterns: the same automaton over a flag array.
  const { atoms, live, next } = p;
  const n = atoms.length;
  live.fill(0);
  live[0] = 1;
  closeFlags(atoms, live);
  for (let i = start; i < end; i++) {
    let code = path.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < end) {
      code = path.codePointAt(i)!;
      i++;
    }
    next.fill(0);
    let any = false;
    for (let s = 0; s < n; s++) {
      if (!live[s]) continue;
      const atom = atoms[s]!;
      if (atom.kind === AtomKind.Star) {
        next[s] = 1;
        any = true;
      } else if (atomTakes(atom, code)) {
        next[s + 1] = 1;
        any = true;
      }
    }
    if (costMeter.on) costMeter.units += Math.ceil((n + 1) / 32);
    if (!any) return false;
    closeFlags(atoms, next);
    live.set(next);
  }
  return live[n] === 1;
}

function closeFlags(atoms: Atom[], flags: Uint8Array): void {
  for (let s = 0; s < atoms.length; s++) if (flags[s] && atoms[s]!.kind === AtomKind.Star) flags[s + 1] = 1;
}

// ---------------------------------------------------------------------------------------------
// Matching a whole path

/** Whether the path's segments match the alternative's: state j waits for glob segment j. */
function alternativeMatches(alt: Alternative, path: string): boolean {
  const { segments, live, next } = alt;
  const n = segments.length;
  live.fill(0);
  live[0] = 1;
  closeGlobstars(segments, live);
  let start = 0;
  for (;;) {
    let end = path.indexOf('/', start);
    if (end < 0) end = path.length;
    next.fill(0);
    let any = false;
    for (let j = 0; j < n; j++) {
      if (!live[j]) continue;
      if (costMeter.on) costMeter.units++;
      const segment = segments[j]!;
      let hit: boolean;
      switch (segment.kind) {
        case SegmentKind.Globstar:
          next[j] = 1;
          any = true;
          continue;
        case SegmentKind.Literal:
          hit = end - start === segment.literal.length && path.startsWith(segment.literal, start);
          break;
        case SegmentKind.Any:
          hit = end > start;
          break;
        case SegmentKind.Pattern:
          hit = segmentMatches(segment.pattern!, path, start, end);
          break;
      }
      if (hit) {
        next[j + 1] = 1;
        any = true;
      }
    }
    if (!any) return false;
    closeGlobstars(segments, next);
    live.set(next);
    if (end >= path.length) break;
    start = end + 1;
  }
  return live[n] === 1;
}

function closeGlobstars(segments: Segment[], flags: Uint8Array): void {
  for (let j = 0; j < segments.length; j++) if (flags[j] && segments[j]!.kind === SegmentKind.Globstar) flags[j + 1] = 1;
}

function matcherOf(compiled: CompiledGlob): GlobMatcher {
  const { alternatives, negated } = compiled;
  if (alternatives.length === 1) {
    const only = alternatives[0]!;
    return negated ? (path) => !alternativeMatches(only, path) : (path) => alternativeMatches(only, path);
  }
  return (path) => {
    let hit = false;
    for (let a = 0; a < alternatives.length && !hit; a++) hit = alternativeMatches(alternatives[a]!, path);
    return hit !== negated;
  };
}

function costOf(compiled: CompiledGlob, paths: readonly string[]): number {
  const match = matcherOf(compiled);
  costMeter.units = 0;
  costMeter.on = true;
  try {
    for (const path of paths) match(path);
    return costMeter.units;
  } finally {
    costMeter.on = false;
  }
}

/**
 * Paths a glob is tried on before it is saved: deep trees, long names, names built to keep many
 * wildcard states alive, and the shapes of real archives.
 */
export const PROBE_PATHS: readonly string[] = (() => {
  const paths = [
    'debian/pool/main/l/linux/linux-image-6.1.0-13-amd64_6.1.55-1_amd64.deb',
    'fedora/releases/40/Workstation/x86_64/iso/Fedora-Workstation-Live-x86_64-40-1.14.iso',
    'ubuntu-releases/24.04/ubuntu-24.04-desktop-amd64.iso.zsync',
    'community/wallpapers/Ünïcode Städte (2026)/berlin night.png',
    'a',
    'Z',
  ];
  for (const n of [8, 32, 128]) {
    paths.push(Array.from({ length: n }, () => 'a').join('/'));
    paths.push(Array.from({ length: n }, (_, i) => `seg${i}?Z`).join('/'));
  }
  for (const n of [64, 255]) {
    paths.push('a'.repeat(n));
    paths.push('ab'.repeat(n >> 1) + 'Y');
    paths.push(`x/${'a?'.repeat(n >> 1)}/y`);
  }
  paths.push(Array.from({ length: 16 }, () => 'a'.repeat(60)).join('/'));
  return paths;
})();
