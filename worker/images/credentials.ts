// The login store (`swarmlite login` / `logout`): registry credentials in Docker's config.json shape,
// `{"auths": {"<registry>": {"auth": base64("user:password")}}}`, in a file only root may read (0600,
// written atomically). A file others can read is refused rather than used: it holds passwords.
import { readFile, stat } from 'node:fs/promises';
import { UserError } from '../../lib/errors.js';
import { writeFileAtomic } from './atomic-file.js';

export interface Credentials {
  username: string;
  password: string;
}

interface AuthFile {
  auths: Record<string, { auth: string }>;
}

export class CredentialStore {
  constructor(readonly path: string) {}

  /** Credentials for a registry domain (`docker.io`, `localhost:5000`), if logged in. */
  async get(registry: string): Promise<Credentials | undefined> {
    const entry = (await this.read()).auths[registry];
    return entry ? decode(entry.auth, this.path, registry) : undefined;
  }

  async set(registry: string, creds: Credentials): Promise<void> {
    if (creds.username === '' || creds.username.includes(':')) {
      throw new UserError('a username must be non-empty and cannot contain ":"');
    }
    const file = await this.read();
    file.auths[registry] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
    await writeFileAtomic(this.path, JSON.stringify(file, null, 1) + '\n', 0o600);
  }

  /** Forgets a registry's credentials; returns whether there were any. */
  async remove(registry: string): Promise<boolean> {
    const file = await this.read();
    if (!file.auths[registry]) return false;
    delete file.auths[registry];
    await writeFileAtomic(this.path, JSON.stringify(file, null, 1) + '\n', 0o600);
    return true;
  }

  async registries(): Promise<string[]> {
    return Object.keys((await this.read()).auths).sort();
  }

  private async read(): Promise<AuthFile> {
    let text: string;
    try {
      const st = await stat(this.path);
      if ((st.mode & 0o077) !== 0) {
        throw new UserError(
          `credential file ${this.path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): ` +
            `run 'chmod 600 ${this.path}' or log in again`,
        );
      }
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { auths: {} };
      throw err;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new UserError(`credential file ${this.path} is damaged: ${(err as Error).message}`);
    }
    const auths = (doc as { auths?: unknown })?.auths;
    if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) {
      throw new UserError(`credential file ${this.path} is damaged: no "auths" object`);
    }
    for (const [registry, entry] of Object.entries(auths)) {
      if (typeof (entry as { auth?: unknown })?.auth !== 'string') {
        throw new UserError(`credential file ${this.path} is damaged: entry ${registry} has no "auth"`);
      }
    }
    return { auths: auths as AuthFile['auths'] };
  }
}

function decode(auth: string, path: string, registry: string): Credentials {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0)
    throw new UserError(`credential file ${path} is damaged: entry ${registry} is not user:password`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
