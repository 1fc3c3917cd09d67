// Image references as Docker reads and prints them (distribution/reference's grammar): an optional
// registry domain, a repository path, an optional tag and an optional digest. Parsing normalizes the
// way `docker pull` does (`busybox` → `docker.io/library/busybox:latest`); the familiar form is what
// `docker image ls` prints (`busybox`, `localhost:5000/app`).
import { UserError } from '../lib/errors.js';

const DEFAULT_DOMAIN = 'docker.io';
const DEFAULT_TAG = 'latest';
/** Docker Hub's API endpoint; `docker.io` names the registry, not the host that serves it. */
const DOCKER_HUB_HOST = 'registry-1.docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

export interface ImageReference {
  /** Registry host with an optional port: `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path inside the registry: `library/busybox`, `team/app`. */
  readonly path: string;
  readonly tag?: string;
  /** `sha256:<64 hex>`; when present it is what a pull fetches, the tag is informational. */
  readonly digest?: string;
}

export class InvalidReferenceError extends UserError {
  constructor(input: string, why: string) {
    super(`invalid reference format: ${JSON.stringify(input)}: ${why}`);
    this.name = 'InvalidReferenceError';
  }
}

// distribution/reference's grammar, written out as regular expressions.
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_RE = new RegExp(`^(?:${IPV6}|${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*)(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const SHA256_DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const DIGEST_SHAPE_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * Parses a user's reference and normalizes it: the default registry is docker.io, its one-component
 * names live under `library/`, and a reference without tag or digest gets `latest`.
 */
export function parseReference(input: string): ImageReference {
  const ref = parseNormalizedNamed(input);
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: DEFAULT_TAG } : ref;
}

/** As parseReference, without adding the default tag (`image ls busybox` matches every tag). */
export function parseNormalizedNamed(input: string): ImageReference {
  const fail = (why: string): never => {
    throw new InvalidReferenceError(input, why);
  };
  if (input === '') fail('empty reference');
  if (input.trim() !== input) fail('surrounding whitespace');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_SHAPE_RE.test(digest)) fail('malformed digest');
    if (!digest.startsWith('sha256:')) fail(`unsupported digest algorithm ${digest.split(':')[0]}`);
    if (!SHA256_DIGEST_RE.test(digest)) fail('a sha256 digest is 64 lowercase hex characters');
  }

  // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) fail('invalid tag');
  }
  if (rest === '') fail('missing repository name');

  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // As Docker: the first component is a registry when it looks like a host (a dot, a port,
    // `localhost`) or has capitals, which a repository path may not.
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first.toLowerCase() !== first
    ) {
      domain = first;
      path = rest.slice(slash + 1);
      if (!DOMAIN_RE.test(domain)) fail(`invalid registry host ${JSON.stringify(domain)}`);
    }
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path.toLowerCase() !== path) fail('repository name must be lowercase');
  // Docker keeps 64-hex names for image IDs, so `image inspect <id>` is never read as a repository.
  if (/^[a-f0-9]{64}$/.test(path)) fail('a repository name cannot be a 64-character hexadecimal string');
  const components = path.split('/');
  for (const component of components) {
    if (!PATH_COMPONENT_RE.test(component)) {
      fail(component === '' ? 'empty path component' : `invalid path component ${JSON.stringify(component)}`);
    }
  }
  if (domain === DEFAULT_DOMAIN && components.length === 1) path = OFFICIAL_REPO_PREFIX + path;
  if (domain.length + 1 + path.length > NAME_TOTAL_LENGTH_MAX) {
    fail(`repository name longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `docker.io/library/busybox`: the fully qualified repository name. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** `docker.io/library/busybox:1.36@sha256:...`: the fully qualified reference. */
export function formatReference(ref: ImageReference): string {
  return repositoryName(ref) + suffix(ref);
}

/** `busybox`, `user/app`, `localhost:5000/app`: the repository as Docker prints it. */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  const path = ref.path.startsWith(OFFICIAL_REPO_PREFIX)
    ? ref.path.slice(OFFICIAL_REPO_PREFIX.length)
    : ref.path;
  // `library/a/b` keeps its prefix: only one-component official names are shortened.
  return path.includes('/') ? ref.path : path;
}

/** `busybox:latest`, `localhost:5000/app@sha256:...`: the reference as Docker prints it. */
export function familiarString(ref: ImageReference): string {
  return familiarName(ref) + suffix(ref);
}

/** The reference with its tag and digest replaced. */
export function withTag(ref: ImageReference, tag: string): ImageReference {
  if (!TAG_RE.test(tag)) throw new InvalidReferenceError(tag, 'invalid tag');
  return { domain: ref.domain, path: ref.path, tag };
}

export function withDigest(ref: ImageReference, digest: string): ImageReference {
  if (!SHA256_DIGEST_RE.test(digest)) throw new InvalidReferenceError(digest, 'invalid digest');
  return { domain: ref.domain, path: ref.path, ...(ref.tag !== undefined ? { tag: ref.tag } : {}), digest };
}

/** The host:port to connect to for a reference's registry (Docker Hub is served elsewhere). */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_HOST : domain;
}

function suffix(ref: ImageReference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}
