// What an Accept header names explicitly: the one rule every answer format is chosen by.

/**
 * Whether `accept` lists `type` itself ("text/html", "application/json", "text/plain"), in any letter
 * case, with a quality above zero. Wildcards do not stand in for it: curl and wget accept any type and
 * ask for no page; a browser names text/html (SPEC: "Accept has text/html"). `type` is lower case.
 */
export function accepts(accept: string, type: string): boolean {
  // The common case, a tool's "*/*": no parsing at all.
  let at = accept.indexOf(type);
  if (at < 0) {
    if (!/[A-Z]/.test(accept)) return false;
    accept = accept.toLowerCase();
    at = accept.indexOf(type);
    if (at < 0) return false;
  }
  for (const range of accept.toLowerCase().split(',')) {
    const [media, ...params] = range.split(';');
    if (media!.trim() !== type) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    // RFC 9110 §12.4.2: q=0 means "not acceptable".
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}
