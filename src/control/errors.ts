// Expected failures of control-plane operations, as typed errors the HTTP layer maps to statuses.

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** A request that is well-formed but not acceptable now (e.g. accepting an offer twice). */
export class InvalidStateError extends Error {
  override readonly name = 'InvalidStateError';
}

/** A mirror or other service we depend on failed (a scan against a dead rsync daemon): 502. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
}

/** The store's "unreachable" error, for layers that may not import the store itself. */
export { StoreUnavailableError } from '../store/store.js';

/** A request naming fields the rules refuse (e.g. a mirror URL at a private address): 422 with each field's reason. */
export class FieldsError extends Error {
  override readonly name = 'FieldsError';
  constructor(
    message: string,
    readonly fields: Record<string, string>,
  ) {
    super(message);
  }
}
