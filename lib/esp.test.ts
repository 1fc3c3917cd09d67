// The encryption check nodes and managers share: refused without ESP in the kernel (or in a build whose
// overlay driver does not program it), accepted once both hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encryptionRefusal, OVERLAY_ENCRYPTION_DATAPATH, probeEsp } from './esp.js';

test('encryptionRefusal: the kernel first, then the data path', () => {
  const none = { esp: false, detail: 'Requested AEAD algorithm not found.' };
  assert.match(encryptionRefusal(none, true)!, /kernel cannot encrypt .*AEAD algorithm not found/);
  assert.match(encryptionRefusal({ esp: true, detail: '' }, false)!, /no encrypted overlay data path/);
  assert.equal(encryptionRefusal({ esp: true, detail: '' }, true), undefined);
});

test('probeEsp asks this kernel (in a throwaway namespace) and says why it cannot', async () => {
  const support = await probeEsp();
  assert.equal(typeof support.esp, 'boolean');
  if (!support.esp) assert.ok(support.detail.length > 0, 'a refusal carries the kernel reason');
  // This build programs ESP: whether a node encrypts is the kernel's answer alone.
  assert.equal(OVERLAY_ENCRYPTION_DATAPATH, true);
  assert.equal(encryptionRefusal(support, OVERLAY_ENCRYPTION_DATAPATH) === undefined, support.esp);
});
