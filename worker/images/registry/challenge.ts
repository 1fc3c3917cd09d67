// WWW-Authenticate challenges (RFC 7235) as registries send them:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"
//   Basic realm="Registry Realm"
// Parsed into a scheme and its parameters; quoted strings may hold commas and backslash escapes.

export interface Challenge {
  /** Lowercase: `bearer`, `basic`. */
  scheme: string;
  params: Record<string, string>;
}

/** Every challenge in a header value; a value that is not a challenge yields none. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i])) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipSpace();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const scheme = token();
    if (scheme === '') return out; // not a token: stop at what could be parsed
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    // Parameters: name=value pairs separated by commas, until the next scheme (a token not followed by '=').
    while (i < n) {
      skipSpace();
      const mark = i;
      const name = token();
      skipSpace();
      if (name === '' || header[i] !== '=') {
        i = mark;
        break;
      }
      i++;
      skipSpace();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i++];
        }
        i++; // closing quote
      } else {
        value = token();
      }
      challenge.params[name.toLowerCase()] = value;
      skipSpace();
      if (header[i] === ',') i++;
    }
  }
  return out;
}
