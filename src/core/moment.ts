// A moment as people and scripts write one: epoch milliseconds, an ISO 8601 date or time, or a time ago ("90m", "7d").

const AGO = /^(\d+(?:\.\d+)?)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Epoch ms for `text`, or undefined when it is none of the three forms. A bare date is its UTC midnight. */
export function parseMoment(text: string, nowMs: number): number | undefined {
  const value = text.trim();
  if (/^\d{10,}$/.test(value)) return Number(value);
  const ago = AGO.exec(value);
  if (ago) return Math.round(nowMs - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS]);
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(/T|\s/.test(value) || value.length > 10 ? value : `${value}T00:00:00Z`);
    if (!Number.isNaN(ms)) return ms;
  }
  return undefined;
}

export const MOMENT_FORMS = 'epoch milliseconds, an ISO date or time (2026-01-31, 2026-01-31T12:00Z) or a time ago like 90m, 1h, 7d';
