import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultTaskSpec } from '../../api/objects/index.js';
import { containerOptions } from './container-options.js';

test("a spec's container options in the executor's terms; none when the spec sets none", () => {
  assert.equal(containerOptions(defaultTaskSpec('busybox')), undefined);
  assert.deepEqual(
    containerOptions({
      ...defaultTaskSpec('busybox'),
      capAdd: ['CAP_NET_ADMIN'],
      capDrop: ['ALL'],
      readOnly: true,
      init: false,
      noNewPrivileges: true,
      seccomp: 'unconfined',
      mounts: [
        { type: 'bind', source: '/srv', target: '/data', readonly: true, tmpfsSizeBytes: 0, tmpfsMode: 0 },
        { type: 'volume', source: 'v', target: '/v', readonly: false, tmpfsSizeBytes: 0, tmpfsMode: 0 },
        { type: 'tmpfs', source: '', target: '/a', readonly: false, tmpfsSizeBytes: 0, tmpfsMode: 0 },
        { type: 'tmpfs', source: '', target: '/b', readonly: false, tmpfsSizeBytes: 4096, tmpfsMode: 0o700 },
      ],
    }),
    {
      capAdd: ['CAP_NET_ADMIN'],
      capDrop: ['ALL'],
      readOnly: true,
      init: false,
      noNewPrivileges: true,
      seccomp: 'unconfined',
      mounts: [
        { type: 'bind', source: '/srv', target: '/data', readonly: true },
        { type: 'volume', source: 'v', target: '/v', readonly: false },
        // tmpfs size and mode 0 are the kernel's defaults: left out.
        { type: 'tmpfs', target: '/a' },
        { type: 'tmpfs', target: '/b', sizeBytes: 4096, mode: 0o700 },
      ],
    },
  );
  // init=false is an answer (no init), kept apart from unset (the node's default).
  assert.deepEqual(containerOptions({ ...defaultTaskSpec('host'), init: false }), { init: false });
});
