// Whether this kernel can encrypt overlay traffic the way Docker's `--opt encrypted` does: IPsec ESP
// in transport mode with AES-GCM (rfc4106), programmed through xfrm. The probe asks the kernel itself:
// it installs one ESP state in a throwaway network namespace (`unshare --net`, gone with the process,
// nothing to clean up). A kernel without ESP or the AEAD answers "Requested AEAD algorithm not found"
// or "Protocol not supported".
import { CommandError, run } from './exec.js';
import { errorMessage } from './errors.js';

export interface EspSupport {
  /** The kernel accepted an ESP transport-mode state with rfc4106(gcm(aes)). */
  esp: boolean;
  /** What the kernel said when it did not. */
  detail: string;
}

/**
 * Whether swarmlite's overlay data path encrypts: the overlay driver programs ESP between VTEPs
 * (worker/network/overlay/plan-esp.ts) with the keys the managers rotate (manager/overlay-keys.ts). A
 * build without it must say false here, so a kernel with ESP never makes an encrypted network run in
 * the clear.
 */
export const OVERLAY_ENCRYPTION_DATAPATH = true;

/**
 * Why a node with this support cannot run a task on an encrypted network, or undefined when it can.
 * `datapath` is whether the overlay driver programs ESP (OVERLAY_ENCRYPTION_DATAPATH).
 */
export function encryptionRefusal(support: EspSupport, datapath: boolean): string | undefined {
  if (!support.esp)
    return `this node's kernel cannot encrypt overlay traffic (IPsec ESP with AES-GCM: ${support.detail})`;
  if (!datapath) return 'this swarmlite build has no encrypted overlay data path yet';
  return undefined;
}

let probed: Promise<EspSupport> | undefined;

/** The kernel's answer, asked once per process. */
export function probeEsp(): Promise<EspSupport> {
  probed ??= (async () => {
    try {
      // A 160-bit key: 128 for AES, 32 for the GCM salt; addresses in the benchmarking range, never used.
      await run(
        'unshare',
        [
          '--net',
          'ip',
          'xfrm',
          'state',
          'add',
          'src',
          '198.18.255.1',
          'dst',
          '198.18.255.2',
          'proto',
          'esp',
          'spi',
          '0x100',
          'reqid',
          '1',
          'mode',
          'transport',
          'aead',
          'rfc4106(gcm(aes))',
          `0x${'01'.repeat(20)}`,
          '128',
        ],
        { timeoutMs: 10_000 },
      );
      return { esp: true, detail: '' };
    } catch (err) {
      const detail = err instanceof CommandError ? err.stderr.trim().split('\n')[0]! : errorMessage(err);
      return { esp: false, detail };
    }
  })();
  return probed;
}
