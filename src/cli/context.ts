// What every command group of the `mirrorgate` command gets: where output goes, the environment and working directory, the exit code, and the CLI's typed failure.

/**
 * A stream the command line writes to: process.stdout and process.stderr, or any writer (tests
 * collect the text). One whose `isTTY` is true is a terminal: progress bars are drawn on it, `columns` wide.
 */
export interface CliOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Where command output goes. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** A terminal to draw progress bars on; undefined when output is not a TTY (pipes, files, tests). */
  progress?(): CliOutput | undefined;
}

/** What every command group gets: output, environment, working directory, and the exit code to report. */
export interface CliContext {
  io: CliIO;
  env: Record<string, string | undefined>;
  /** Relative paths the user typed (config and logo files) are resolved against it. */
  cwd: string;
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

/** An expected failure: run() prints the message on stderr and resolves to the code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
