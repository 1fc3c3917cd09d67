// Checks on a received message that the generated types cannot express: proto3 decodes an absent
// message as null and an enum (sent as a string, proto/loader-options.json) as any string. The
// conversions from wire to store objects (task-wire.ts, node-wire.ts) refuse what fails them.

/** A decoded message that is not a whole object: `path` names the first field found wrong. */
export class WireError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'WireError';
  }
}

/** A message field the store's object always has (proto3 decodes an absent message as null). */
export function required<T>(m: T | null, path: string): T {
  if (m === null || m === undefined) throw new WireError(path, 'missing');
  return m;
}

export function nonEmpty(s: string, path: string): string {
  if (s === '') throw new WireError(path, 'empty');
  return s;
}

/** An enum string: one of `values`, '' (proto3's unset) included in what is refused. */
export function oneOf<T extends string>(v: string, path: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(v))
    throw new WireError(path, `"${v}" is not one of ${values.join(', ')}`);
  return v as T;
}
