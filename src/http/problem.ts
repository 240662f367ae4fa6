// Expected failures as typed errors; app.ts maps them to a response in one place.

export type ProblemStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 502 | 503;

export class HttpProblem extends Error {
  constructor(
    readonly status: ProblemStatus,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
