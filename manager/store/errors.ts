// Errors the store reports. Apply-time rejections are decided identically on every manager and travel
// back to the proposing caller as plain data (ApplyError); `errorFromApply` turns them into classes
// callers can test with instanceof.

export type StoreErrorCode =
  | 'exists'
  | 'not-found'
  | 'sequence-conflict'
  | 'name-conflict'
  | 'invalid-object'
  | 'malformed-entry'
  | 'invalid-snapshot'
  | 'unknown-outcome'
  | 'proposal-too-large'
  | 'watch-overflow'
  | 'transaction-closed';

class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** A create names an id that is already taken. */
export class ExistsError extends StoreError {
  constructor(message: string) {
    super('exists', message);
    this.name = 'ExistsError';
  }
}

/** An update or delete names an object that is not there. */
export class NotFoundError extends StoreError {
  constructor(message: string) {
    super('not-found', message);
    this.name = 'NotFoundError';
  }
}

/** The object changed since the writer read it: re-read and retry. */
export class SequenceConflictError extends StoreError {
  constructor(message: string) {
    super('sequence-conflict', message);
    this.name = 'SequenceConflictError';
  }
}

/** A unique index (e.g. the cluster name) would hold two objects. */
export class NameConflictError extends StoreError {
  constructor(message: string) {
    super('name-conflict', message);
    this.name = 'NameConflictError';
  }
}

/** The object does not have the shape its kind requires. */
export class InvalidObjectError extends StoreError {
  constructor(message: string) {
    super('invalid-object', message);
    this.name = 'InvalidObjectError';
  }
}

/** Entry bytes that do not decode as a store batch; apply skips them. */
export class MalformedEntryError extends StoreError {
  constructor(message: string) {
    super('malformed-entry', message);
    this.name = 'MalformedEntryError';
  }
}

/** Snapshot bytes that do not decode to a valid store: restore refuses them and keeps its state. */
export class InvalidSnapshotError extends StoreError {
  constructor(message: string) {
    super('invalid-snapshot', message);
    this.name = 'InvalidSnapshotError';
  }
}

/**
 * The proposer said the proposal is done but this store never applied it (e.g. a snapshot covering it
 * replaced the state first). It may or may not have taken effect: re-read before retrying.
 */
export class UnknownOutcomeError extends StoreError {
  constructor(message: string) {
    super('unknown-outcome', message);
    this.name = 'UnknownOutcomeError';
  }
}

/** The encoded batch exceeds the store's proposal limit; split the work into several updates. */
export class ProposalTooLargeError extends StoreError {
  constructor(message: string) {
    super('proposal-too-large', message);
    this.name = 'ProposalTooLargeError';
  }
}

/** A watcher fell too far behind; it must resync from a fresh viewAndWatch. */
export class WatchOverflowError extends StoreError {
  constructor(message: string) {
    super('watch-overflow', message);
    this.name = 'WatchOverflowError';
  }
}

/** A transaction object was used after its callback returned. */
export class TransactionClosedError extends StoreError {
  constructor() {
    super('transaction-closed', 'store transaction used after its callback returned');
    this.name = 'TransactionClosedError';
  }
}

/** An apply-time rejection as data: what apply returns and what the proposer's caller receives. */
export interface ApplyError {
  code: StoreErrorCode;
  message: string;
}

export function errorFromApply(e: ApplyError): StoreError {
  switch (e.code) {
    case 'exists':
      return new ExistsError(e.message);
    case 'not-found':
      return new NotFoundError(e.message);
    case 'sequence-conflict':
      return new SequenceConflictError(e.message);
    case 'name-conflict':
      return new NameConflictError(e.message);
    case 'invalid-object':
      return new InvalidObjectError(e.message);
    case 'malformed-entry':
      return new MalformedEntryError(e.message);
    default:
      return new StoreError(e.code, e.message);
  }
}
