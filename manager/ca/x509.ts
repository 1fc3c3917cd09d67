// The one place that loads @peculiar/x509: tsyringe (which it uses) needs the Reflect metadata API, so
// its polyfill is imported first (ES modules run their imports in order), and the library is pointed
// at Node's WebCrypto before any use.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto);

export { x509 };

/** ECDSA over P-256 with SHA-256: the only key and signature algorithm the cluster CA uses or accepts. */
export const ECDSA_P256: webcrypto.EcKeyImportParams & webcrypto.EcdsaParams = {
  name: 'ECDSA',
  namedCurve: 'P-256',
  hash: 'SHA-256',
};
