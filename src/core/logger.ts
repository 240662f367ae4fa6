// The one logging port every layer writes to (pino on Node, console JSON on Workers); modules ask for the levels they use.
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
