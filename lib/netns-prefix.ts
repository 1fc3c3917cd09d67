// The prefix every namespace, interface and nftables table a daemon creates starts with (DESIGN.md §4),
// so several daemons can share one kernel and cleanup is exact.

/**
 * Names start with the prefix, so it must be short and shell-safe; lab hosts use '<lab>-n<i>' (13 bytes
 * at most). Interface names (15 bytes) are shortened by whoever makes them.
 */
export const NETNS_PREFIX_PATTERN = /^[a-z][a-z0-9-]{0,12}$/;
