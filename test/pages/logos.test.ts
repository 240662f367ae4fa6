// Sponsor logos: hostile SVGs are rebuilt without script, handlers, external references or entities; raster logos are size- and type-checked.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLogos, MAX_LOGO_BYTES, prepareLogo, sanitizeSvg } from '../../src/control/logos.js';
import type { MirrorSpec } from '../../src/core/model.js';

const wrap = (inner: string, rootAttrs = '') => `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"${rootAttrs}>${inner}</svg>`;

function clean(svg: string): string {
  const r = sanitizeSvg(svg);
  if (!r.ok) throw new Error(`rejected: ${r.reason}`);
  return r.svg;
}

/** What no sanitised logo may contain, whatever the input spelled. */
function expectHarmless(out: string) {
  const lower = out.toLowerCase();
  expect(lower).not.toMatch(/<script|<foreignobject|<iframe|<embed|<object|<animate|<set[\s>/]|<handler|<listener/);
  expect(lower).not.toMatch(/\son[a-z]+\s*=/);
  expect(lower).not.toMatch(/javascript:|vbscript:|data:text/);
  expect(lower).not.toMatch(/<!entity|<!doctype|<\?xml-stylesheet/);
  expect(lower).not.toMatch(/href="(?!#|data:image\/(png|jpeg|gif|webp);base64,)/);
  expect(lower).not.toMatch(/url\((?!#|'#|"#)/);
  expect(lower).not.toMatch(/@import/);
  expect(out).not.toContain('\\');
}

describe('sanitizeSvg', () => {
  it('keeps an ordinary logo drawing intact', async () => {
    const source = await readFile(path.resolve('data/logos/mainbruecke-de.svg'), 'utf8');
    const out = clean(source);
    expect(out).toContain('<path d="M10 44 Q40 8 70 44" stroke="#3b7dd8" stroke-width="6"/>');
    expect(out).toContain('>Mainbrücke</text>');
    expect(out).toContain('font-family="&apos;Inter&apos;'.replace(/&apos;/g, "'"));
    expect(sanitizeSvg(source)).toMatchObject({ ok: true, removed: [] });
  });

  it('keeps gradients, local references, local url(#…) paints and raster data: images', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const out = clean(
      wrap(
        `<defs><linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient><path id="p" d="M0 0"/></defs>` +
          `<rect fill="url(#g)" style="fill: url('#g'); opacity: .5" width="10" height="10"/>` +
          `<use xlink:href="#p"/><use href="#p"/><image href="${png}" width="1" height="1"/>` +
          `<style>rect { fill: url(#g) } .a > .b { stroke: red }</style>`,
        ' xmlns:xlink="http://www.w3.org/1999/xlink"',
      ),
    );
    expect(out).toContain('fill="url(#g)"');
    expect(out).toContain('<use xlink:href="#p"/>');
    expect(out).toContain('<use href="#p"/>');
    expect(out).toContain(`href="${png}"`);
    expect(out).toContain('<style>rect { fill: url(#g) } .a &gt; .b { stroke: red }</style>');
  });

  const hostile: [string, string][] = [
    ['script element', wrap('<script>alert(1)</script><rect/>')],
    ['script in CDATA', wrap('<script><![CDATA[alert(1)]]></script>')],
    ['namespaced script', wrap('<svg:script xmlns:svg="http://www.w3.org/2000/svg">alert(1)</svg:script>')],
    ['XHTML script', wrap('<html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(1)</html:script>')],
    ['event handler', wrap('<rect onclick="alert(1)" onLoad="alert(2)" ONMOUSEOVER="x"/>', ' onload="alert(1)"')],
    ['javascript: link', wrap('<a href="javascript:alert(1)"><text>x</text></a>')],
    ['obfuscated javascript: link', wrap('<a xlink:href="&#x6A;ava&#x09;script:alert(1)"><rect/></a>', ' xmlns:xlink="http://www.w3.org/1999/xlink"')],
    ['javascript: in use', wrap('<use href=" javascript:alert(1)"/>')],
    ['foreignObject', wrap('<foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><img src="x" onerror="alert(1)"/></body></foreignObject>')],
    ['external use', wrap('<use href="https://evil.example/sprite.svg#a"/>')],
    ['external xlink image', wrap('<image xlink:href="//evil.example/track.png"/>', ' xmlns:xlink="http://www.w3.org/1999/xlink"')],
    ['svg data: image', wrap('<image href="data:image/svg+xml;base64,PHN2Zy8+"/>')],
    ['data:text/html', wrap('<image href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"/>')],
    ['external paint', wrap('<rect fill="url(https://evil.example/x.svg#g)"/>')],
    ['external filter with quotes and spaces', wrap(`<rect filter="url( 'http://evil.example/f.svg#f' )"/>`)],
    ['external url in style attribute', wrap('<rect style="fill:url(http://evil.example/a#b)"/>')],
    ['CSS escape in a presentation attribute', wrap('<rect fill="\\75rl(https://evil.example/x.svg#g)"/>')],
    ['CSS escape in style attribute', wrap('<rect style="background:u\\72l(http://evil.example/)"/>')],
    ['@import in style element', wrap('<style>@import url(https://evil.example/x.css);</style><rect/>')],
    ['@import hidden by a comment', wrap('<style>@im/**/port "https://evil.example/x.css";</style><rect/>')],
    ['external url in style element', wrap('<style><![CDATA[rect{fill:url("https://evil.example/a#b")}]]></style><rect/>')],
    ['set animation rewriting href', wrap('<a href="#x"><set attributeName="href" to="javascript:alert(1)"/><text>x</text></a>')],
    ['animate rewriting href', wrap('<use href="#x"><animate attributeName="href" values="javascript:alert(1)"/></use>')],
    ['xml-stylesheet', `<?xml-stylesheet href="https://evil.example/x.css"?>${wrap('<rect/>')}`],
    ['iframe and embed', wrap('<iframe src="https://evil.example"/><embed src="x"/><object data="x"/>')],
    ['feImage external', wrap('<filter id="f"><feImage href="https://evil.example/x.png"/></filter>')],
    ['unbound prefix rebinding xlink', wrap('<use xmlns:evil="http://www.w3.org/1999/xlink" evil:href="https://evil.example/a#b"/>')],
    ['handler listener elements', wrap('<handler type="text/ecmascript">alert(1)</handler><listener event="click"/>')],
  ];

  it.each(hostile)('strips %s', (_label, svg) => {
    const r = sanitizeSvg(svg);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expectHarmless(r.svg);
    expect(r.removed.length).toBeGreaterThan(0);
    // The output is itself clean: a second pass changes nothing and removes nothing.
    expect(sanitizeSvg(r.svg)).toEqual({ ok: true, svg: r.svg, removed: [] });
  });

  const refused: [string, string, RegExp][] = [
    ['entity declaration', `<!DOCTYPE svg [<!ENTITY x "y">]>${wrap('<text>&x;</text>')}`, /entit/i],
    ['billion laughs', `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>${wrap('<text>&lol2;</text>')}`, /entit/i],
    ['XXE', `<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${wrap('<text>&xxe;</text>')}`, /entit/i],
    ['internal subset without entities', `<!DOCTYPE svg [<!ATTLIST svg onload CDATA "alert(1)">]>${wrap('')}`, /internal subset/],
    ['undeclared entity', wrap('<text>&nbsp;</text>'), /unknown entity/],
    ['HTML root', '<html><script>alert(1)</script></html>', /root element/],
    ['two roots', wrap('') + wrap(''), /more than one root/],
    ['unclosed element', '<svg xmlns="http://www.w3.org/2000/svg"><g>', /unclosed/],
    ['mismatched tags', wrap('<g></text>'), /mismatched/],
    ['unquoted attribute', '<svg onload=alert(1)></svg>', /unquoted/],
    ['attribute without value', '<svg onload></svg>', /without a value/],
    ["'<' in a value", wrap('<rect id="<script>"/>'), /'<'/],
    ['bare ampersand', wrap('<text>a & b</text>'), /bare/],
    ['NUL character reference', wrap('<text>&#0;</text>'), /invalid character/],
    ['not SVG at all', 'GIF89a', /no <svg>|text outside/],
  ];

  it.each(refused)('refuses %s', (_label, svg, reason) => {
    const r = sanitizeSvg(svg);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('drops a plain DOCTYPE, the XML declaration and comments', () => {
    const out = clean(
      `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<!-- made by hand -->${wrap('<rect/>')}`,
    );
    expect(out).toBe('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"><rect/></svg>\n');
  });

  it('drops editor metadata in foreign namespaces without breaking the document', () => {
    const out = clean(
      wrap(
        '<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata><sodipodi:namedview pagecolor="#fff"/><g inkscape:label="Layer 1"><rect/></g>',
        ' xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"',
      ),
    );
    expect(out).not.toContain('inkscape');
    expect(out).not.toContain('sodipodi');
    expect(out).toContain('<g><rect/></g>');
  });

  it('re-escapes decoded text and values', () => {
    const out = clean(wrap('<text data-x="&quot;&gt;&lt;script&gt;">&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#x41;</text>'));
    expect(out).toContain('<text data-x="&quot;&gt;&lt;script&gt;">&lt;script&gt;alert(1)&lt;/script&gt; &amp; A</text>');
  });
});

describe('prepareLogo', () => {
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);

  it('accepts a raster logo whose bytes match its extension', () => {
    expect(prepareLogo(png, 'logo.png')).toMatchObject({ ok: true, logo: { contentType: 'image/png' } });
  });

  it('refuses raster bytes that are not what the extension says', () => {
    const html = new TextEncoder().encode('<html><script>alert(1)</script></html>');
    expect(prepareLogo(html, 'logo.png')).toMatchObject({ ok: false, reason: expect.stringMatching(/not image\/png/) });
    expect(prepareLogo(png, 'logo.gif')).toMatchObject({ ok: false });
  });

  it('refuses logos over the size limit', () => {
    const big = new Uint8Array(MAX_LOGO_BYTES + 1);
    big.set(png);
    expect(prepareLogo(big, 'logo.png')).toMatchObject({ ok: false, reason: expect.stringMatching(/larger than 256 KB/) });
  });

  it('serves an SVG logo as its sanitised rebuild', () => {
    const r = prepareLogo(new TextEncoder().encode(wrap('<script>alert(1)</script><rect/>')), 'logo.SVG');
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(new TextDecoder().decode(r.logo.body)).not.toContain('script');
      expect(r.removed).toEqual(['element <script>']);
    }
  });
});

describe('loadLogos', () => {
  it('loads good logos, warns about and skips hostile, oversized and missing ones', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mirrorgate-logos-'));
    try {
      const files = {
        good: path.join(dir, 'good.svg'),
        stripped: path.join(dir, 'stripped.svg'),
        entity: path.join(dir, 'entity.svg'),
        big: path.join(dir, 'big.png'),
        missing: path.join(dir, 'missing.png'),
      };
      await writeFile(files.good, wrap('<rect/>'));
      await writeFile(files.stripped, wrap('<rect onclick="alert(1)"/>'));
      await writeFile(files.entity, `<!DOCTYPE svg [<!ENTITY x "y">]>${wrap('')}`);
      await writeFile(files.big, Buffer.alloc(MAX_LOGO_BYTES + 10));
      const mirrors = Object.entries(files).map(([id, logo]) => ({ id, sponsor: { name: id, logo } }) as unknown as MirrorSpec);
      const warnings: { obj: Record<string, unknown>; msg: string | undefined }[] = [];
      const logos = await loadLogos(mirrors, { warn: (obj, msg) => warnings.push({ obj: obj as Record<string, unknown>, msg }) });
      expect([...logos.keys()].sort()).toEqual(['good', 'stripped']);
      expect(new TextDecoder().decode(logos.get('stripped')!.body)).not.toContain('onclick');
      const byMirror = Object.fromEntries(warnings.map((w) => [w.obj.mirror, w.msg]));
      expect(byMirror).toEqual({
        stripped: 'sponsor logo sanitised',
        entity: 'sponsor logo rejected; not shown',
        big: 'sponsor logo larger than 256 KB; not shown',
        missing: 'sponsor logo unreadable',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
