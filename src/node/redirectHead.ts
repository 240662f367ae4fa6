// Node only: the fast path's 302 head handed to node:http as one finished text. writeHead checks every
// header value with a regex and joins the fields one by one, which cost about a seventh of a 302's CPU
// (bench:ab, 2026-12-06: −13.6 %). A redirect's values are safe by construction (encoded paths, base64,
// request ids, our constants) or come from the snapshot's mirrors, checked here once per snapshot.
// The head is what writeHead would have written, byte for byte (test/node/redirectHead.test.ts), and
// node:http still sends it, keeps the connection alive or closes it.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Snapshot } from '../core/snapshot.js';

/**
 * The fields of ServerResponse that node:http's own header writer (_storeHeader) reads and sets, the same
 * in Node 20, 22 and 24. A release without them answers through writeHead, as before.
 */
interface HeadFields {
  _header: string | null;
  _headerSent: boolean;
  _last: boolean;
  _expect_continue: boolean;
  _keepAliveTimeout: number;
  _defaultKeepAlive: boolean;
  _maxRequestsPerSocket?: number;
  maxRequestsOnConnectionReached: boolean;
  shouldKeepAlive: boolean;
  sendDate: boolean;
}

const FIELDS_KNOWN: boolean = (() => {
  const res = new ServerResponse(new IncomingMessage(new Socket())) as unknown as Partial<HeadFields>;
  return (
    res._header === null &&
    res._headerSent === false &&
    res._last === false &&
    res._expect_continue === false &&
    typeof res._keepAliveTimeout === 'number' &&
    typeof res._defaultKeepAlive === 'boolean' &&
    typeof res.maxRequestsOnConnectionReached === 'boolean' &&
    typeof res.shouldKeepAlive === 'boolean' &&
    res.sendDate === true
  );
})();

/** Anything node:http would refuse in a header value, and more: controls and non-ASCII. */
const UNSAFE = /[^\x20-\x7e]/;

const safeSnapshots = new WeakMap<Snapshot, boolean>();

/** True when every text of the snapshot that goes into a redirect's head is printable ASCII. */
export function headSafe(snapshot: Snapshot, publicUrl: string): boolean {
  let safe = safeSnapshots.get(snapshot);
  if (safe === undefined) {
    safe = !UNSAFE.test(publicUrl) && !UNSAFE.test(snapshot.origin.baseUrl);
    for (const { spec } of snapshot.mirrors) {
      if (UNSAFE.test(spec.baseUrl) || UNSAFE.test(spec.id) || UNSAFE.test(spec.country)) safe = false;
    }
    safeSnapshots.set(snapshot, safe);
  }
  return safe;
}

let dateSecond = -1;
let dateText = '';

/** The Date field's value, made once a second (as node:http does). */
function httpDate(): string {
  const ms = Date.now();
  const second = Math.floor(ms / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(ms).toUTCString();
  }
  return dateText;
}

/**
 * Ends `res` as a 302 with `fields` and then `tail` (field lines, `name: value\r\n` each, values known
 * safe: see headSafe), adding Date and Connection as node:http does. Returns
 * false, touching nothing, where node:http must write the head itself: a release without the fields, a
 * head already begun, or a client waiting for 100-continue.
 */
export function endRedirect(res: ServerResponse, fields: string, tail: string): boolean {
  const r = res as unknown as HeadFields;
  if (!FIELDS_KNOWN || r._header !== null || r._expect_continue || res.getHeaderNames().length > 0) return false;
  let head = 'HTTP/1.1 302 Found\r\n' + fields + tail;
  if (r.sendDate) head += 'Date: ' + httpDate() + '\r\n';
  // node:http's keep-alive rule for a response with a Content-Length (_storeHeader).
  if (r.shouldKeepAlive && r.maxRequestsOnConnectionReached) {
    head += 'Connection: close\r\n';
  } else if (r.shouldKeepAlive) {
    head += 'Connection: keep-alive\r\n';
    if (r._keepAliveTimeout && r._defaultKeepAlive) {
      const max = ~~(r._maxRequestsPerSocket ?? 0);
      head += `Keep-Alive: timeout=${Math.floor(r._keepAliveTimeout / 1000)}${max > 0 ? `, max=${max}` : ''}\r\n`;
    }
  } else {
    r._last = true;
    head += 'Connection: close\r\n';
  }
  res.statusCode = 302;
  res.statusMessage = 'Found';
  r._header = head + '\r\n';
  r._headerSent = false;
  res.end();
  return true;
}
