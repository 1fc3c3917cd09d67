// The config file of Debian's docker-registry as swarmlite runs it (the lab's registries and the
// image tests' registries): filesystem storage with deletes allowed, quiet logs, one listen address,
// optional TLS and one auth scheme. Written here once so both run the registry the same way.
import { randomBytes } from 'node:crypto';

export interface RegistryConfig {
  /** Where the registry keeps its blobs and manifests. */
  rootDirectory: string;
  /** `ip:port` to listen on. */
  addr: string;
  tls?: { certFile: string; keyFile: string };
  htpasswd?: { realm: string; path: string };
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Signs the registry's upload state; random per start unless a test pins it. */
  secret?: string;
}

/** The YAML text of the config (the registry reads only the keys written here). */
export function registryConfigYaml(c: RegistryConfig): string {
  if (c.htpasswd && c.token) throw new Error('a registry takes one auth scheme: htpasswd or token');
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${c.rootDirectory}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${c.addr}`,
    `  secret: ${c.secret ?? randomBytes(16).toString('hex')}`,
  ];
  if (c.tls) lines.push('  tls:', `    certificate: ${c.tls.certFile}`, `    key: ${c.tls.keyFile}`);
  if (c.htpasswd)
    lines.push('auth:', '  htpasswd:', `    realm: ${c.htpasswd.realm}`, `    path: ${c.htpasswd.path}`);
  if (c.token) {
    const t = c.token;
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${t.realm}`,
      `    service: ${t.service}`,
      `    issuer: ${t.issuer}`,
      `    rootcertbundle: ${t.rootCertBundle}`,
    );
  }
  return lines.join('\n') + '\n';
}
