// How quantities read to people, one definition each: bytes, and durations with their unit in the name (seconds or milliseconds).

/** Decimal units, as network and disk sizes are quoted (1.5 GB = 1.5e9 bytes): "512 B", "4.59 kB", "129 MB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** For pages: "2 h 30 min", "45 min", "3 days 4 h" — coarse on purpose: people compare, they do not compute. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} days ${h % 24} h` : `${d} days`;
}

/** For terminals: 250ms, 45s, 10m, 1h 30m, 2d 3h — the largest unit and the next one when it is not zero. */
export function formatMillis(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const amounts = (
    [
      ['d', 86_400],
      ['h', 3_600],
      ['m', 60],
      ['s', 1],
    ] as const
  ).map(([unit, size]) => {
    const n = Math.floor(rest / size);
    rest -= n * size;
    return `${n}${unit}`;
  });
  const first = amounts.findIndex((a) => !a.startsWith('0'));
  const next = amounts[first + 1];
  return next && !next.startsWith('0') ? `${amounts[first]} ${next}` : (amounts[first] ?? '0s');
}
