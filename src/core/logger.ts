// The one logging port every layer writes to (pino on Node, console JSON on Workers); modules ask for the levels they use.
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /**
   * The access log's line for one answered request, where a runtime writes it faster than
   * `info(line, 'request')` would, with the same output (Node: one preformatted line, batched writes).
   */
  request?(line: RequestLine): void;
}

/** One access-log line: every answered request gets one, from either transport. */
export interface RequestLine {
  reqId: string | undefined;
  method: string;
  path: string;
  status: number;
  /** The chosen mirror's id (or "origin") when a download was answered. */
  mirror: string | undefined;
  /** Time in our code, ms with two decimals. */
  ms: number;
}
