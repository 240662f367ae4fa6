// Expected failures as typed errors; app.ts maps them to a response in one place.
import type { ProblemAnswer } from './schemas/admin.js';

export type ProblemStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 502 | 503;

/** What a JSON error answer carries besides its message: each refused field's reason, and anything else a client may use (the valid audit actions). */
export type ProblemDetails = Pick<ProblemAnswer, 'fields'> & Record<string, unknown>;

export class HttpProblem extends Error {
  readonly status: ProblemStatus;
  readonly details?: ProblemDetails;
  /** Response headers the status calls for (a 405's Allow). */
  readonly headers?: Record<string, string>;

  constructor(status: ProblemStatus, message: string, details?: ProblemDetails, headers?: Record<string, string>) {
    // An answer such as a 404 needs no stack trace, and capturing one costs more than the answer itself.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.status = status;
    if (details !== undefined) this.details = details;
    if (headers !== undefined) this.headers = headers;
  }
}
