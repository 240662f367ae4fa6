// What every command group of the `mirrorgate` command gets: where output goes, the environment, the exit code, and the CLI's typed failure.

/** Where command output goes; tests hand in collectors instead of the process streams. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** A terminal to draw progress bars on; undefined when output is not a TTY (pipes, files, tests). */
  progress?(): NodeJS.WritableStream | undefined;
}

/** What every command group gets: output, environment, and the exit code to report. */
export interface CliContext {
  io: CliIO;
  env: Record<string, string | undefined>;
  exitCode: number;
}

/** Exit codes of the command line; scripts may rely on them. */
export const EXIT = {
  ok: 0,
  /** The command failed: refused change (409/422), bad query (400), server error, failed scan. */
  failed: 1,
  /** Usage error: unknown command or option, missing or malformed argument. */
  usage: 2,
  /** The server could not be reached (connection refused, DNS, timeout). */
  unreachable: 3,
  /** 401: no token, or the token was refused. */
  unauthorized: 4,
  /** 403: the token may not do this (a provider token on a staff action, or another provider's mirror). */
  forbidden: 5,
  /** 404: no such mirror or offer. */
  notFound: 6,
  /** 503: the server cannot save changes right now (its shared store is unavailable). */
  unavailable: 7,
} as const;

/** An expected failure: main() prints the message on stderr and exits with the code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
