// The nftables tables the routing mesh owns, as pure functions of the daemon's prefix.
//
// Ownership is by exact name, not by prefix alone: the node's namespace also holds the overlay
// driver's `<prefix>_gw` table, and the applier must never touch it (or any other program's table).
// Prefixes are [a-z0-9-] (daemon/options.ts), so the '_' ends the prefix and `swl` never owns
// `swl2_ingress`.

/** The kinds of table the mesh writes, each in its own namespace (see README.md). */
const TABLE_KINDS = ['ingress', 'publish', 'return', 'vips'] as const;
export type TableKind = (typeof TABLE_KINDS)[number];

const PREFIX = /^[a-z][a-z0-9-]{0,12}$/;

export function assertPrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) {
    throw new RangeError(
      `prefix '${prefix}' is invalid: use 1-13 of a-z, 0-9 and '-', starting with a letter`,
    );
  }
}

/** `<prefix>_ingress`, `<prefix>_publish`, `<prefix>_return` or `<prefix>_vips`. */
export function tableName(prefix: string, kind: TableKind): string {
  assertPrefix(prefix);
  return `${prefix}_${kind}`;
}

/** Whether a table (family ip) is one the mesh of this prefix owns. */
export function ownsTable(prefix: string, name: string): boolean {
  return TABLE_KINDS.some((kind) => tableName(prefix, kind) === name);
}

/**
 * Ids become parts of chain names. nft identifiers take letters, digits, '_', '-', '.', '/', so
 * anything else (or an empty id) is refused rather than mangled: two ids mangled alike would share
 * a chain.
 */
export function assertIdentifierPart(what: string, id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) {
    throw new RangeError(`${what} '${id}' cannot be part of an nftables chain name`);
  }
}
