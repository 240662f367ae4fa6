// Server-drawn SVG charts: every text escaped, empty data and a single bar drawn sensibly, bad numbers never reach the markup.
import { describe, expect, it } from 'vitest';
import { barChart, columnChart, escapeXml, niceMax, shortNumber, type ChartDatum } from '../../src/http/views/chart.js';

const EVIL = `"><script>alert(1)</script><img src=x onerror=alert(2) '&`;
const opts = { id: 'c1', title: 'Downloads by day', unit: 'downloads' };

const rects = (svg: string) =>
  [...svg.matchAll(/<rect class="bar" x="([^"]+)" y="([^"]+)" width="([^"]+)" height="([^"]+)"\/>/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    width: Number(m[3]),
    height: Number(m[4]),
  }));
const titles = (svg: string) => [...svg.matchAll(/<title[^>]*>([^<]*)<\/title>/g)].map((m) => m[1]);

describe.each([
  ['columnChart', columnChart],
  ['barChart', barChart],
] as const)('%s', (_name, chart) => {
  it('escapes every text: labels, tooltips, title, description and empty text', () => {
    const data: ChartDatum[] = [
      { label: EVIL, value: 3 },
      { label: 'ok', value: 1, title: EVIL },
    ];
    for (const svg of [
      chart(data, { ...opts, title: EVIL, description: EVIL, unit: EVIL }),
      chart([], { ...opts, title: EVIL, emptyText: EVIL }),
      chart([{ label: 'x', value: 0 }], { ...opts, emptyText: EVIL }),
    ]) {
      expect(svg).not.toContain('<script');
      expect(svg).not.toContain('<img');
      // Only the chart's own elements and attributes: nothing the input could have opened.
      const tags = new Set([...svg.matchAll(/<\/?([a-zA-Z][\w-]*)/g)].map((m) => m[1]));
      expect([...tags].every((t) => ['svg', 'title', 'desc', 'g', 'line', 'text', 'rect'].includes(t!))).toBe(true);
      expect(svg).not.toMatch(/<[^>]*\son\w+=/);
      expect(svg).toContain('&lt;script&gt;');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.endsWith('</svg>')).toBe(true);
    }
  });

  it('keeps the id to safe characters, so it cannot break out of its attribute', () => {
    const svg = chart([{ label: 'a', value: 1 }], { ...opts, id: `x" onload="alert(1)` });
    expect(svg).not.toContain('onload="');
    expect(svg).toMatch(/aria-labelledby="x--onload--alert-1--title x--onload--alert-1--desc"/);
  });

  it('draws empty data as a labelled picture that says so', () => {
    const svg = chart([], { ...opts, emptyText: 'No downloads yet' });
    expect(rects(svg)).toEqual([]);
    expect(svg).toContain('role="img"');
    expect(svg).toContain('<title id="c1-title">Downloads by day</title>');
    expect(svg).toContain('No downloads yet');
    expect(svg).toContain('No downloads in this period.');
    expect(svg).not.toContain('NaN');
  });

  it('draws one bar filling the scale, with its own tooltip', () => {
    const svg = chart([{ label: 'Mon', value: 7 }], opts);
    const bars = rects(svg);
    expect(bars).toHaveLength(1);
    expect(bars[0]!.height).toBeGreaterThan(0);
    expect(bars[0]!.width).toBeGreaterThan(0);
    expect(titles(svg)).toContain('Mon: 7 downloads');
    expect(svg).toContain('7 downloads in all; the most, 7, for Mon.');
    expect(svg).not.toContain('NaN');
  });

  it('draws all-zero data without dividing by zero, and says there is nothing', () => {
    const svg = chart(
      [
        { label: 'a', value: 0 },
        { label: 'b', value: 0 },
      ],
      { ...opts, emptyText: 'Nothing yet' },
    );
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(rects(svg).every((r) => r.width >= 0 && r.height >= 0)).toBe(true);
    expect(svg).toContain('No downloads in this period.');
  });

  it('treats negative, NaN and infinite values as zero', () => {
    const svg = chart(
      [
        { label: 'neg', value: -5 },
        { label: 'nan', value: Number.NaN },
        { label: 'inf', value: Number.POSITIVE_INFINITY },
        { label: 'ok', value: 2 },
      ],
      opts,
    );
    expect(svg).not.toMatch(/NaN|Infinity|-\d/);
    expect(titles(svg)).toEqual(expect.arrayContaining(['neg: 0 downloads', 'nan: 0 downloads', 'inf: 0 downloads', 'ok: 2 downloads']));
  });
});

describe('columnChart', () => {
  it('draws bars in order with heights proportional to their values on a round axis', () => {
    const data = Array.from({ length: 30 }, (_, i) => ({ label: `d${i}`, value: i % 5 }));
    const svg = columnChart(data, opts);
    const bars = rects(svg);
    expect(bars).toHaveLength(30);
    expect(bars.map((b) => b.x)).toEqual([...bars.map((b) => b.x)].sort((a, b) => a - b));
    const unit = bars[1]!.height; // value 1
    expect(bars[4]!.height).toBeCloseTo(unit * 4, 1);
    expect(bars[0]!.height).toBe(0);
    // Axis 0..5 (round), with a few day labels, not thirty.
    expect(svg).toContain('>5</text>');
    const dayLabels = [...svg.matchAll(/text-anchor="middle">(d\d+)<\/text>/g)].map((m) => m[1]);
    expect(dayLabels.length).toBeGreaterThanOrEqual(5);
    expect(dayLabels.length).toBeLessThanOrEqual(8);
    expect(dayLabels).toContain('d29');
    expect(dayLabels).toEqual(['d29', 'd24', 'd19', 'd14', 'd9', 'd4']);
  });
});

describe('barChart', () => {
  it('writes each row’s label and value, the largest bar widest', () => {
    const svg = barChart(
      [
        { label: 'Germany', value: 12_000 },
        { label: 'France', value: 3 },
      ],
      opts,
    );
    const bars = rects(svg);
    expect(bars[0]!.width).toBeGreaterThan(bars[1]!.width);
    expect(svg).toContain('>Germany</text>');
    expect(svg).toContain('>12k</text>');
    expect(svg).toContain('>3</text>');
  });
});

describe('helpers', () => {
  it('rounds axis ends to 1, 2 or 5 times a power of ten', () => {
    expect([0, 0.3, 1, 3, 7, 12, 99, 101, 4_000].map(niceMax)).toEqual([1, 0.5, 1, 5, 10, 20, 100, 200, 5_000]);
    expect(niceMax(Number.NaN)).toBe(1);
  });
  it('shortens numbers', () => {
    expect([0, 950, 9_999, 12_000, 1_500_000, 2_000_000_000].map(shortNumber)).toEqual(['0', '950', '9,999', '12k', '1.5M', '2G']);
  });
  it('escapes the five XML specials', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
