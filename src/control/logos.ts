// Sponsor logos: the config's files read once, and logos uploaded at runtime (kept in the store), all sanitised (SVG rebuilt, raster types checked) and served from memory.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { MirrorSpec } from '../core/model.js';
import type { StoredLogo } from '../core/records.js';

/** A logo ready to serve (the http layer's Logo has this shape). */
export interface Logo {
  body: Uint8Array;
  contentType: string;
}

/** Larger logos are skipped with a warning: a logo is a small picture, and every page shows one. */
export const MAX_LOGO_BYTES = 256 * 1024;

/** Uploads stay within the API's 64 KB request body (with room for a form's framing): plenty for a 240×80 logo. */
export const MAX_UPLOADED_LOGO_BYTES = 60 * 1024;

/** What an upload may be, by Content-Type: SVG, PNG or WebP. */
export const UPLOAD_TYPES: Record<string, string> = {
  'image/svg+xml': '.svg',
  'image/png': '.png',
  'image/webp': '.webp',
};

/** The sponsor.logo value of an uploaded logo: it names the version, so caches (the edge's) notice a new one. */
export function uploadedLogoRef(sha256: string): string {
  return `uploaded:${sha256.slice(0, 16)}`;
}

/** Checks an uploaded logo: its declared type must be SVG, PNG or WebP and its bytes must be that, within the size limit. */
export function prepareUpload(bytes: Uint8Array, contentType: string): PreparedLogo {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  const ext = UPLOAD_TYPES[type];
  if (!ext)
    return {
      ok: false,
      reason: `a logo must be SVG, PNG or WebP (Content-Type image/svg+xml, image/png or image/webp), not ${JSON.stringify(type || 'none')}`,
    };
  if (bytes.byteLength === 0) return { ok: false, reason: 'the logo is empty' };
  if (bytes.byteLength > MAX_UPLOADED_LOGO_BYTES) return { ok: false, reason: `the logo is larger than ${MAX_UPLOADED_LOGO_BYTES / 1024} KB` };
  return prepareLogo(bytes, `upload${ext}`);
}

export function storedLogoOf(logo: Logo, actor: string, nowMs: number): StoredLogo {
  const body = Buffer.from(logo.body.buffer, logo.body.byteOffset, logo.body.byteLength);
  return {
    contentType: logo.contentType,
    body: body.toString('base64'),
    sha256: createHash('sha256').update(body).digest('hex'),
    updatedAt: nowMs,
    updatedBy: actor,
  };
}

/** The uploaded logos one instance serves, as the store holds them (reloaded when a logo changes anywhere). */
export class UploadedLogos {
  private readonly logos = new Map<string, { logo: Logo; stored: StoredLogo }>();

  replaceAll(all: ReadonlyMap<string, StoredLogo>): void {
    this.logos.clear();
    for (const [mirror, stored] of all) this.set(mirror, stored);
  }

  set(mirror: string, stored: StoredLogo | undefined): void {
    if (!stored) {
      this.logos.delete(mirror);
      return;
    }
    this.logos.set(mirror, { logo: { body: new Uint8Array(Buffer.from(stored.body, 'base64')), contentType: stored.contentType }, stored });
  }

  get(mirror: string): Logo | undefined {
    return this.logos.get(mirror)?.logo;
  }

  stored(mirror: string): StoredLogo | undefined {
    return this.logos.get(mirror)?.stored;
  }

  entries(): [string, StoredLogo][] {
    return [...this.logos].map(([mirror, { stored }]) => [mirror, stored]);
  }
}

const TYPES: Record<string, string> = {
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

export type PreparedLogo = { ok: true; logo: Logo; removed: string[] } | { ok: false; reason: string };

/** Checks one logo file's bytes: SVG is rebuilt from an allowlist, raster must be what its extension says. */
export function prepareLogo(bytes: Uint8Array, fileName: string): PreparedLogo {
  const contentType = TYPES[path.extname(fileName).toLowerCase()];
  if (!contentType) return { ok: false, reason: `unsupported logo type ${JSON.stringify(path.extname(fileName))}` };
  if (bytes.byteLength > MAX_LOGO_BYTES) return { ok: false, reason: `larger than ${MAX_LOGO_BYTES / 1024} KB` };
  if (contentType === 'image/svg+xml') {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return { ok: false, reason: 'SVG is not valid UTF-8' };
    }
    const clean = sanitizeSvg(text);
    if (!clean.ok) return clean;
    return { ok: true, logo: { body: new TextEncoder().encode(clean.svg), contentType }, removed: clean.removed };
  }
  if (!hasSignature(bytes, contentType)) return { ok: false, reason: `content is not ${contentType}` };
  return { ok: true, logo: { body: bytes, contentType }, removed: [] };
}

export async function loadLogos(mirrors: readonly MirrorSpec[], log: { warn(obj: object, msg?: string): void }): Promise<Map<string, Logo>> {
  const logos = new Map<string, Logo>();
  for (const m of mirrors) {
    const file = m.sponsor?.logo;
    if (!file || file.startsWith('uploaded:')) continue;
    try {
      // Size first, so a huge file is never read into memory.
      const { size } = await stat(file);
      if (size > MAX_LOGO_BYTES) {
        log.warn({ mirror: m.id, file, bytes: size }, `sponsor logo larger than ${MAX_LOGO_BYTES / 1024} KB; not shown`);
        continue;
      }
      const prepared = prepareLogo(new Uint8Array(await readFile(file)), file);
      if (!prepared.ok) {
        log.warn({ mirror: m.id, file, reason: prepared.reason }, 'sponsor logo rejected; not shown');
        continue;
      }
      if (prepared.removed.length) log.warn({ mirror: m.id, file, removed: prepared.removed }, 'sponsor logo sanitised');
      logos.set(m.id, prepared.logo);
    } catch (err) {
      log.warn({ mirror: m.id, file, err: (err as Error).message }, 'sponsor logo unreadable');
    }
  }
  return logos;
}

function hasSignature(b: Uint8Array, contentType: string): boolean {
  const starts = (sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v);
  const ascii = (s: string) => [...s].map((ch) => ch.charCodeAt(0));
  switch (contentType) {
    case 'image/png':
      return starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    case 'image/jpeg':
      return starts([0xff, 0xd8, 0xff]);
    case 'image/gif':
      return starts(ascii('GIF87a')) || starts(ascii('GIF89a'));
    case 'image/webp':
      return starts(ascii('RIFF')) && starts(ascii('WEBP'), 8);
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// SVG sanitiser
//
// No maintained pure-JS SVG sanitiser exists (DOMPurify and its wrappers need a DOM), so this
// is a strict XML tokenizer that rebuilds the document from an allowlist. Nothing of the input
// is copied through unparsed: every kept name is checked and every text and value re-escaped,
// so the browser parses exactly what we checked. Anything malformed or unusual is refused.

export type SvgSanitizeResult = { ok: true; svg: string; removed: string[] } | { ok: false; reason: string };

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';
const MAX_DEPTH = 200;

/** Static SVG graphics; everything else (script, foreignObject, animation, metadata…) goes with its subtree. */
const ALLOWED_ELEMENTS = new Set([
  'svg',
  'g',
  'defs',
  'symbol',
  'use',
  'title',
  'desc',
  'switch',
  'path',
  'rect',
  'circle',
  'ellipse',
  'line',
  'polyline',
  'polygon',
  'text',
  'tspan',
  'textPath',
  'linearGradient',
  'radialGradient',
  'stop',
  'pattern',
  'clipPath',
  'mask',
  'marker',
  'image',
  'style',
  'filter',
  'feBlend',
  'feColorMatrix',
  'feComponentTransfer',
  'feComposite',
  'feConvolveMatrix',
  'feDiffuseLighting',
  'feDisplacementMap',
  'feDistantLight',
  'feDropShadow',
  'feFlood',
  'feFuncA',
  'feFuncB',
  'feFuncG',
  'feFuncR',
  'feGaussianBlur',
  'feImage',
  'feMerge',
  'feMergeNode',
  'feMorphology',
  'feOffset',
  'fePointLight',
  'feSpecularLighting',
  'feSpotLight',
  'feTile',
  'feTurbulence',
]);
/** Dropped, but their children kept: a link does nothing inside <img>, its drawing should stay. */
const UNWRAPPED_ELEMENTS = new Set(['a']);
/** The only elements that may embed a picture, and then only a raster data: URL. */
const EMBEDDING_ELEMENTS = new Set(['image', 'feImage']);
const RASTER_DATA_URL = /^data:image\/(png|jpeg|gif|webp);base64,[a-z0-9+/=\s]*$/i;

const NAME = /[A-Za-z_][A-Za-z0-9_.:-]*/y;
const SPACE = /[ \t\r\n]*/y;

interface OpenElement {
  name: string;
  /** 'keep': emitted; 'unwrap': children emitted; 'drop': whole subtree dropped. */
  mode: 'keep' | 'unwrap' | 'drop';
}

class SvgRejected extends Error {}

export function sanitizeSvg(source: string): SvgSanitizeResult {
  try {
    return { ok: true, ...rebuild(source) };
  } catch (err) {
    if (err instanceof SvgRejected) return { ok: false, reason: err.message };
    throw err;
  }
}

function rebuild(source: string): { svg: string; removed: string[] } {
  const s = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  // Entities are refused outright, before anything else looks at the text (billion laughs, XXE).
  if (/<!ENTITY/i.test(s)) throw new SvgRejected('entity declarations are not allowed');
  const out: string[] = [];
  const removed = new Set<string>();
  const stack: OpenElement[] = [];
  let dropping = 0; // > 0 while inside a dropped subtree
  let sawRoot = false;
  let i = 0;

  const emitting = () => dropping === 0;
  const fail = (why: string): never => {
    throw new SvgRejected(why);
  };

  while (i < s.length) {
    const lt = s.indexOf('<', i);
    const textEnd = lt < 0 ? s.length : lt;
    if (textEnd > i) {
      const text = decodeEntities(s.slice(i, textEnd));
      if (stack.length === 0) {
        if (text.trim() !== '') fail('text outside the root element');
      } else if (emitting()) {
        out.push(escapeText(text));
      }
      i = textEnd;
      continue;
    }
    // At '<'.
    if (s.startsWith('<?', i)) {
      const end = s.indexOf('?>', i + 2);
      if (end < 0) fail('unterminated processing instruction');
      const target = /^<\?([^\s?]*)/.exec(s.slice(i, end))?.[1] ?? '';
      if (target.toLowerCase() !== 'xml') removed.add(`processing instruction <?${target}?>`);
      i = end + 2;
      continue;
    }
    if (s.startsWith('<!--', i)) {
      const end = s.indexOf('-->', i + 4);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
      continue;
    }
    if (s.startsWith('<![CDATA[', i)) {
      const end = s.indexOf(']]>', i + 9);
      if (end < 0) fail('unterminated CDATA section');
      if (stack.length === 0) fail('CDATA outside the root element');
      if (emitting()) out.push(escapeText(s.slice(i + 9, end)));
      i = end + 3;
      continue;
    }
    if (/^<!DOCTYPE/i.test(s.slice(i, i + 9))) {
      if (sawRoot) fail('DOCTYPE after the root element');
      i = skipDoctype(s, i + 9);
      continue;
    }
    if (s.startsWith('<!', i)) fail('markup declarations are not allowed');
    if (s.startsWith('</', i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(s);
      if (!m) fail('malformed end tag');
      const name = m![0];
      SPACE.lastIndex = NAME.lastIndex;
      SPACE.exec(s);
      if (s[SPACE.lastIndex] !== '>') fail(`malformed end tag </${name}>`);
      i = SPACE.lastIndex + 1;
      const open = stack.pop();
      if (!open || open.name !== name) fail(`mismatched end tag </${name}>`);
      if (open!.mode === 'drop') dropping--;
      else if (open!.mode === 'keep' && emitting()) out.push(`</${name}>`);
      continue;
    }

    // A start tag.
    NAME.lastIndex = i + 1;
    const m = NAME.exec(s);
    if (!m) fail('malformed tag');
    const name = m![0];
    let j = NAME.lastIndex;
    const attrs: [string, string][] = [];
    let selfClosing = false;
    for (;;) {
      SPACE.lastIndex = j;
      SPACE.exec(s);
      const hadSpace = SPACE.lastIndex > j;
      j = SPACE.lastIndex;
      if (s.startsWith('/>', j)) {
        selfClosing = true;
        j += 2;
        break;
      }
      if (s[j] === '>') {
        j += 1;
        break;
      }
      if (!hadSpace) fail(`malformed tag <${name}>`);
      NAME.lastIndex = j;
      const an = NAME.exec(s);
      if (!an) fail(`malformed attribute in <${name}>`);
      j = NAME.lastIndex;
      SPACE.lastIndex = j;
      SPACE.exec(s);
      if (s[SPACE.lastIndex] !== '=') fail(`attribute ${an![0]} without a value`);
      SPACE.lastIndex += 1;
      SPACE.exec(s);
      j = SPACE.lastIndex;
      const quote = s[j];
      if (quote !== '"' && quote !== "'") fail(`unquoted attribute ${an![0]}`);
      const close = s.indexOf(quote!, j + 1);
      if (close < 0) fail(`unterminated attribute ${an![0]}`);
      const raw = s.slice(j + 1, close);
      if (raw.includes('<')) fail(`'<' in attribute ${an![0]}`);
      if (attrs.some(([n]) => n === an![0])) fail(`duplicate attribute ${an![0]}`);
      attrs.push([an![0], decodeEntities(raw)]);
      j = close + 1;
    }
    i = j;

    if (stack.length === 0) {
      if (sawRoot) fail('more than one root element');
      if (name !== 'svg') fail(`the root element is <${name}>, not <svg>`);
      sawRoot = true;
    }
    if (stack.length >= MAX_DEPTH) fail('elements nested too deeply');

    let mode: OpenElement['mode'];
    if (!emitting()) mode = 'drop';
    else if (ALLOWED_ELEMENTS.has(name)) mode = 'keep';
    else if (UNWRAPPED_ELEMENTS.has(name)) mode = 'unwrap';
    else mode = 'drop';
    if (emitting() && mode !== 'keep') removed.add(`element <${name}>`);

    if (mode === 'keep') {
      let tag = `<${name}`;
      if (stack.length === 0) tag += ` xmlns="${SVG_NS}" xmlns:xlink="${XLINK_NS}"`;
      for (const [an, value] of attrs) {
        const why = attributeProblem(name, an, value);
        if (why === null) tag += ` ${an}="${escapeAttr(value)}"`;
        else if (why !== '') removed.add(`attribute ${an} on <${name}> (${why})`);
      }
      out.push(selfClosing ? `${tag}/>` : `${tag}>`);
    }
    if (!selfClosing) {
      stack.push({ name, mode });
      if (mode === 'drop') dropping++;
    }
    if (name === 'style' && mode === 'keep' && !selfClosing) {
      // Style sheets are checked whole: an unsafe one is dropped, not patched.
      const end = s.indexOf('</style', i);
      if (end < 0) fail('unterminated <style>');
      const css = styleText(s.slice(i, end));
      if (!cssIsSafe(css)) {
        out.pop();
        stack[stack.length - 1]!.mode = 'drop';
        dropping++;
        removed.add('element <style> (external reference or script in CSS)');
      }
    }
  }
  if (stack.length) fail(`unclosed element <${stack[stack.length - 1]!.name}>`);
  if (!sawRoot) fail('no <svg> element');
  return { svg: `${out.join('')}\n`, removed: [...removed] };
}

/** Skips a DOCTYPE without an internal subset (Illustrator writes one); a subset could declare entities. */
function skipDoctype(s: string, from: number): number {
  let quote: string | null = null;
  for (let k = from; k < s.length; k++) {
    const ch = s[k]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '[') {
      throw new SvgRejected('DOCTYPE with an internal subset is not allowed');
    } else if (ch === '>') {
      return k + 1;
    }
  }
  throw new SvgRejected('unterminated DOCTYPE');
}

/**
 * Why an attribute must go: null keeps it, '' drops it quietly (namespace declarations we
 * write ourselves), any other text is the reason shown in the warning.
 */
function attributeProblem(element: string, name: string, value: string): string | null {
  const lower = name.toLowerCase();
  if (lower === 'xmlns' || lower.startsWith('xmlns:')) return '';
  if (lower.startsWith('on')) return 'event handler';
  if (name.includes(':') && name !== 'xlink:href' && name !== 'xml:space' && name !== 'xml:lang') return 'foreign namespace';
  const squashed = value.replace(/[\u0000-\u0020\u007f-\u009f]+/g, '').toLowerCase();
  if (/(java|vb)script:|data:text|data:application/.test(squashed)) return 'script URL';
  if (lower === 'href' || name === 'xlink:href') {
    const v = value.trim();
    if (v.startsWith('#')) return null;
    if (EMBEDDING_ELEMENTS.has(element) && RASTER_DATA_URL.test(v)) return null;
    return 'external reference';
  }
  if (lower === 'style') return cssIsSafe(value) ? null : 'external reference or script in CSS';
  // Presentation attributes are parsed as CSS, where \75rl( spells url(: no escapes at all.
  if (value.includes('\\')) return 'CSS escape';
  if (squashed.includes('url(') && !onlyLocalUrls(squashed)) return 'external reference';
  return null;
}

/** The text of a <style> element, with CDATA sections opened and entities decoded. */
function styleText(raw: string): string {
  return raw.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1').replace(/&[^;\s]*;/g, (e) => decodeEntities(e));
}

/** CSS may point at fragments of this document only; escapes are refused since they could spell anything. */
function cssIsSafe(css: string): boolean {
  const text = css.replace(/\/\*[\s\S]*?\*\//g, '').toLowerCase();
  if (text.includes('\\') || text.includes('<') || text.includes('/*')) return false;
  if (/@import|@font-face|@namespace|expression\s*\(|behavior\s*:|-moz-binding|javascript:|vbscript:/.test(text)) return false;
  if (/image-set\s*\(|image\s*\(|src\s*\(/.test(text)) return false;
  return onlyLocalUrls(text.replace(/\s+/g, ''));
}

/** Every url(…) in a whitespace-free, lower-cased value names a fragment (#id). */
function onlyLocalUrls(squashed: string): boolean {
  const re = /url\(/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(squashed))) {
    let k = m.index + 4;
    if (squashed[k] === '"' || squashed[k] === "'") k++;
    if (squashed[k] !== '#') return false;
  }
  return true;
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&([^;]*);|&/g, (whole, ref: string | undefined) => {
    if (ref === undefined) throw new SvgRejected("bare '&' (not an entity reference)");
    const named = NAMED[ref];
    if (named !== undefined) return named;
    const num = /^#x([0-9a-fA-F]{1,6})$/.exec(ref)?.[1] ?? /^#([0-9]{1,7})$/.exec(ref)?.[1];
    if (num === undefined) throw new SvgRejected(`unknown entity ${whole}`);
    const code = ref.startsWith('#x') ? parseInt(num, 16) : parseInt(num, 10);
    if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new SvgRejected(`invalid character reference ${whole}`);
    return String.fromCodePoint(code);
  });
}

/** Style sheets too: an SVG served as image/svg+xml is parsed as XML, so escaped CSS reads the same. */
function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttr(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}
