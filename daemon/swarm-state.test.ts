import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCsr, createRootCA, generateNodeKey, signNodeCertificate } from '../manager/index.js';
import { loadCertificates, saveCertificates, type NodeCertificates } from './swarm-state.js';

async function issue(ca: { certPem: string; keyPem: string }): Promise<NodeCertificates> {
  const { keyPem } = generateNodeKey();
  const certPem = await signNodeCertificate(ca, await createCsr(keyPem), {
    nodeId: 'n1',
    role: 'worker',
    clusterId: 'c1',
    validityMs: 3_600_000,
  });
  return { caCertPem: ca.certPem, certPem, keyPem };
}

test('certificates survive a crash at any point of a save', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'swl-certs-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const ca = await createRootCA('c1');
  const first = await issue(ca);
  const second = await issue(ca);
  saveCertificates(root, first);
  assert.deepEqual(loadCertificates(root), first);
  saveCertificates(root, second);
  assert.deepEqual(loadCertificates(root), second, 'a save replaces the set');

  // Crash after the current folder moved aside, before the new one moved in.
  const dir = join(root, 'certificates');
  renameSync(dir, `${dir}.new`);
  assert.deepEqual(loadCertificates(root), second, 'the fully written new folder is used');
  renameSync(`${dir}.new`, `${dir}.old`);
  assert.deepEqual(loadCertificates(root), second, 'else the previous folder');

  // A torn set (new key, old certificate) is never handed out.
  saveCertificates(root, first);
  writeFileSync(join(dir, 'swarm-node.key'), second.keyPem);
  assert.equal(loadCertificates(root), undefined);
  saveCertificates(root, second);
  assert.deepEqual(loadCertificates(root), second);
});
