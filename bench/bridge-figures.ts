// bench:bridge's pure parts: the underlay addresses of one run, the order of the paths in each round,
// and the figures read from the rounds (medians, the median of the per-round ratios).

/**
 * One run's addresses, a block of 16 in 198.19.160.0-198.19.199.255 (inside 198.18.0.0/15, away from
 * the labs, bench:mesh's 198.19.100-150 and the Docker peer's 198.19.252-255) picked by `seed`: a /29
 * for the swarmlite node and its host namespace (which has two addresses), a /30 for the reference
 * pair and a /30 for the Docker peer's link to its host namespace.
 */
export interface Underlay {
  /** The swarmlite node and the "host" namespace that reaches its published port. */
  node: string;
  host: string;
  /** The host's second address: the source of the direct path's requests (see HTTP_LOAD). */
  hostDirect: string;
  /** The reference pair: two namespaces joined by a plain veth. */
  refA: string;
  refB: string;
  /** The Docker peer's namespace and the "host" namespace that reaches it. */
  dockerSide: string;
  dockerHost: string;
}

export function underlayFor(seed: number): Underlay {
  const block = (seed >>> 0) % (40 * 16); // 40 /24s, 16 blocks of 16 addresses in each
  const third = 160 + Math.floor(block / 16);
  const base = (block % 16) * 16;
  const at = (n: number) => `198.19.${third}.${base + n}`;
  return {
    node: at(1),
    host: at(2),
    hostDirect: at(3),
    refA: at(9),
    refB: at(10),
    dockerSide: at(13),
    dockerHost: at(14),
  };
}

/** The paths in round `round`, rotated so each goes first in turn (a load change favours none). */
export function roundOrder<T>(paths: readonly T[], round: number): T[] {
  if (paths.length === 0) return [];
  const k = round % paths.length;
  return [...paths.slice(k), ...paths.slice(0, k)];
}

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * The median of the per-round ratios a[i] / b[i]: each round's two runs are seconds apart, so their
 * ratio is steadier on a shared machine than the ratio of the two medians. NaN when a round is missing.
 */
export function roundRatio(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || a.length !== b.length) return NaN;
  return median(a.map((x, i) => x / b[i]!));
}

/** The runs of one path as printed: `12.3 / 11.9 / 12.8`. */
export const runsText = (xs: readonly number[], digits: number): string =>
  xs.map((x) => x.toFixed(digits)).join(' / ');
