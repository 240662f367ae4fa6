// Node only: keeps each Link of an app response in its own header field on the wire.
import type { ServerResponse } from 'node:http';

/**
 * Hono answers with Fetch Headers, and @hono/node-server hands node:http one comma-joined value
 * per name. RFC 6249 clients (aria2) read alternatives only from separate `Link` fields, so the
 * joined value is split again before it is written. Our link-values always start with `<`, which
 * is never bare inside a URI reference, so ", <" marks a boundary exactly.
 */
export function keepLinkFieldsApart(res: ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const headers = args.find((a, i) => i > 0 && typeof a === 'object' && a !== null && !Array.isArray(a)) as Record<string, unknown> | undefined;
    const link = headers?.link;
    if (typeof link === 'string' && link.includes(', <')) headers!.link = link.split(/,\s*(?=<)/);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}
