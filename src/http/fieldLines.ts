// Header fields as HTTP/1.1 writes them, `name: value\r\n` a line, and back as [name, value, …] pairs: the
// 302's fields are made once as text (what the Node fast path sends as it is) and read as pairs where the
// Fetch API wants them (the Hono route, the Worker).

/** [name, value, name, value, …] as field lines, `name: value\r\n` each. */
export function fieldLines(pairs: readonly string[]): string {
  let text = '';
  for (let i = 0; i < pairs.length; i += 2) text += `${pairs[i]}: ${pairs[i + 1]}\r\n`;
  return text;
}

/**
 * Field lines as [name, value, …] pairs, in order. Throws on a line that is not `name: value` with a
 * token for a name, or on a bare CR or LF: text from fieldLines, or built like it, never has one.
 */
export function fieldPairs(text: string): string[] {
  const pairs: string[] = [];
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\r\n', start);
    const line = text.slice(start, end < 0 ? text.length : end);
    const colon = line.indexOf(': ');
    if (end < 0 || colon <= 0 || !TOKEN.test(line.slice(0, colon)) || /[\r\n]/.test(line)) {
      throw new Error(`not a header field line: ${JSON.stringify(line)}`);
    }
    pairs.push(line.slice(0, colon), line.slice(colon + 2));
    start = end + 2;
  }
  return pairs;
}

/** RFC 9110 §5.6.2 token: what a field name is made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
