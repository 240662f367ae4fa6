// Long lists on console pages come a page at a time (a flood of offers or a thousand mirrors must not make one page of megabytes).
import { html } from 'hono/html';

export interface Paged<T> {
  items: T[];
  /** 1-based. */
  page: number;
  pages: number;
  total: number;
  /** The query parameter that selects the page. */
  param: string;
}

/** Page `requested` (1-based; anything unreadable is the first, past the end the last) of `items`. */
export function paginate<T>(items: readonly T[], requested: string | undefined, perPage: number, param: string): Paged<T> {
  const pages = Math.max(1, Math.ceil(items.length / perPage));
  const asked = requested !== undefined && /^\d{1,6}$/.test(requested) ? Number(requested) : 1;
  const page = Math.min(Math.max(1, asked), pages);
  return { items: items.slice((page - 1) * perPage, page * perPage), page, pages, total: items.length, param };
}

/** "Page 2 of 7" with links to the neighbours, keeping the other lists' pages (`keep`); nothing for one page. */
export function pageNav(paged: Paged<unknown>, label: string, keep: Record<string, number> = {}, anchor = '') {
  if (paged.pages <= 1) return '';
  const href = (page: number) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(keep)) if (v > 1) q.set(k, String(v));
    if (page > 1) q.set(paged.param, String(page));
    const s = q.toString();
    return `?${s}${anchor}`;
  };
  return html`<nav class="pagination" aria-label="${label}">
    <p>
      ${label}: page ${paged.page} of ${paged.pages}
      (${paged.total})${
        paged.page > 1 ? html` · <a href="${href(paged.page - 1)}" rel="prev">previous</a>` : ''
      }${paged.page < paged.pages ? html` · <a href="${href(paged.page + 1)}" rel="next">next</a>` : ''}
    </p>
  </nav>`;
}
