// Expected failures as typed errors; app.ts maps them to a response in one place.

export type ProblemStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 502 | 503;

export class HttpProblem extends Error {
  readonly status: ProblemStatus;
  readonly details?: Record<string, unknown>;

  constructor(status: ProblemStatus, message: string, details?: Record<string, unknown>) {
    // An answer such as a 404 needs no stack trace, and capturing one costs more than the answer itself.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.status = status;
    if (details !== undefined) this.details = details;
  }
}
