// Charts drawn on the server as inline SVG: pure functions from numbers to markup, every text escaped.
// Colours come from the stylesheet (.chart classes), so the CSP needs no inline styles and dark mode works.

export interface ChartDatum {
  /** Short axis label ("3 Mar", "Germany"). */
  label: string;
  value: number;
  /** The bar's tooltip; default "label: value unit". */
  title?: string;
}

export interface ChartOptions {
  /** Unique within the page: the ids of <title> and <desc> derive from it. */
  id: string;
  /** What the chart shows, for its <title> (announced by screen readers). */
  title: string;
  /** One sentence for screen readers; default: total and largest bar. */
  description?: string;
  /** Counted thing, plural ("downloads"). */
  unit?: string;
  /** Said when there is nothing to draw. */
  emptyText?: string;
}

const WIDTH = 640;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

/** Only finite, non-negative numbers are drawn; anything else counts as zero. */
function clean(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** 1, 2 or 5 times a power of ten, at least `max`: round axis ends. */
export function niceMax(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const exp = 10 ** Math.floor(Math.log10(max));
  const f = max / exp;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * exp;
}

/** 950, 1.2k, 3.4M: axis labels stay short. */
export function shortNumber(n: number): string {
  const abs = Math.abs(n);
  const fmt = (x: number, suffix: string) => `${Number(x.toFixed(x < 10 ? 1 : 0))}${suffix}`;
  if (abs >= 1e9) return fmt(n / 1e9, 'G');
  if (abs >= 1e6) return fmt(n / 1e6, 'M');
  if (abs >= 1e4) return fmt(n / 1e3, 'k');
  return Number.isInteger(n) ? n.toLocaleString('en') : String(Number(n.toFixed(2)));
}

const num = (n: number) => String(Math.round(n * 100) / 100);

function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '-') || 'chart';
}

function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

function summary(data: readonly ChartDatum[], unit: string): string {
  const values = data.map((d) => clean(d.value));
  const total = values.reduce((a, b) => a + b, 0);
  if (total === 0) return `No ${unit} in this period.`;
  let best = 0;
  values.forEach((v, i) => {
    if (v > values[best]!) best = i;
  });
  return `${total.toLocaleString('en')} ${unit} in all; the most, ${values[best]!.toLocaleString('en')}, for ${data[best]!.label}.`;
}

function tooltip(d: ChartDatum, unit: string): string {
  return d.title ?? `${d.label}: ${clean(d.value).toLocaleString('en')} ${unit}`;
}

function open(id: string, opts: ChartOptions, data: readonly ChartDatum[], height: number, kind: string): string {
  const unit = opts.unit ?? 'items';
  const desc = opts.description ?? summary(data, unit);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-${kind}" role="img" aria-labelledby="${id}-title ${id}-desc" ` +
    `viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" preserveAspectRatio="xMinYMin meet" focusable="false">` +
    `<title id="${id}-title">${escapeXml(opts.title)}</title><desc id="${id}-desc">${escapeXml(desc)}</desc>`
  );
}

function empty(id: string, opts: ChartOptions, data: readonly ChartDatum[], kind: string): string {
  const height = 80;
  return `${open(id, opts, data, height, kind)}<text class="chart-empty" x="${WIDTH / 2}" y="${height / 2}" text-anchor="middle" dominant-baseline="middle">${escapeXml(opts.emptyText ?? 'No data yet')}</text></svg>`;
}

/**
 * Vertical bars, one per datum in order (days, say), on a zero-based axis with a round top.
 * About six labels are written under the axis, the last bar's always; every bar has its own tooltip.
 */
export function columnChart(data: readonly ChartDatum[], opts: ChartOptions): string {
  const id = safeId(opts.id);
  if (data.length === 0) return empty(id, opts, data, 'columns');
  const unit = opts.unit ?? 'items';
  const height = 220;
  const left = 48;
  const right = 24;
  const top = 12;
  const bottom = 34;
  const plotW = WIDTH - left - right;
  const plotH = height - top - bottom;
  const values = data.map((d) => clean(d.value));
  const max = niceMax(Math.max(...values));
  const integers = values.every(Number.isInteger);
  const ticks = [0, max / 2, max].filter((t) => !integers || Number.isInteger(t));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const slot = plotW / data.length;
  const barW = Math.max(1, Math.min(48, slot * 0.72));
  const every = Math.max(1, Math.ceil(data.length / 6));

  const parts: string[] = [open(id, opts, data, height, 'columns')];
  parts.push('<g class="chart-axis" aria-hidden="true">');
  for (const t of ticks) {
    parts.push(`<line class="chart-grid" x1="${left}" x2="${WIDTH - right}" y1="${num(y(t))}" y2="${num(y(t))}"/>`);
    parts.push(`<text class="chart-label" x="${left - 6}" y="${num(y(t))}" text-anchor="end" dominant-baseline="middle">${escapeXml(shortNumber(t))}</text>`);
  }
  // Counted back from the last bar (today, say), so it always has its label.
  for (let i = data.length - 1; i >= 0; i -= every) {
    const cx = left + slot * i + slot / 2;
    parts.push(`<text class="chart-label" x="${num(cx)}" y="${height - bottom + 22}" text-anchor="middle">${escapeXml(truncate(data[i]!.label, 12))}</text>`);
  }
  parts.push('</g><g class="chart-bars">');
  data.forEach((d, i) => {
    const v = values[i]!;
    const x = left + slot * i + (slot - barW) / 2;
    const h = (v / max) * plotH;
    parts.push(
      `<g class="chart-bar"><title>${escapeXml(tooltip(d, unit))}</title><rect class="bar" x="${num(x)}" y="${num(top + plotH - h)}" width="${num(barW)}" height="${num(h)}"/></g>`,
    );
  });
  parts.push('</g>');
  if (values.every((v) => v === 0))
    parts.push(
      `<text class="chart-empty" x="${left + plotW / 2}" y="${top + plotH / 2}" text-anchor="middle" dominant-baseline="middle">${escapeXml(opts.emptyText ?? 'No data yet')}</text>`,
    );
  parts.push('</svg>');
  return parts.join('');
}

/** Horizontal bars, one row per datum in the order given (largest first, say), each with its value; all zero draws as empty. */
export function barChart(data: readonly ChartDatum[], opts: ChartOptions): string {
  const id = safeId(opts.id);
  const values = data.map((d) => clean(d.value));
  // Rows of zero-length bars say nothing a sentence would not say better.
  if (values.every((v) => v === 0)) return empty(id, opts, data, 'bars');
  const unit = opts.unit ?? 'items';
  const rowH = 28;
  const top = 6;
  const labelW = 170;
  const valueW = 64;
  const height = top * 2 + rowH * data.length;
  const plotW = WIDTH - labelW - valueW;
  const max = Math.max(...values) || 1;

  const parts: string[] = [open(id, opts, data, height, 'bars')];
  data.forEach((d, i) => {
    const v = values[i]!;
    const cy = top + rowH * i + rowH / 2;
    const w = (v / max) * plotW;
    parts.push(
      `<g class="chart-bar"><title>${escapeXml(tooltip(d, unit))}</title>` +
        `<text class="chart-label" x="${labelW - 8}" y="${num(cy)}" text-anchor="end" dominant-baseline="middle" aria-hidden="true">${escapeXml(truncate(d.label, 22))}</text>` +
        `<rect class="bar" x="${labelW}" y="${num(cy - 9)}" width="${num(w)}" height="18"/>` +
        `<text class="chart-value" x="${num(labelW + w + 6)}" y="${num(cy)}" dominant-baseline="middle" aria-hidden="true">${escapeXml(shortNumber(v))}</text></g>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
