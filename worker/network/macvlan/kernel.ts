// Which link types this kernel can make, asked of the kernel itself: a throwaway device of the type in a
// fresh namespace of the daemon's prefix (`ip link add` loads a module when there is one, so a missing
// built-in that is available as a module still counts as present). The reading of the outcome is pure
// (kernelHas); the probe is the small shell around it, and a driver asks once per feature.
import { randomBytes } from 'node:crypto';
import { CommandError, run } from '../../../lib/exec.js';
import { NetworkDriverError } from '../driver.js';

export type KernelFeature = 'vlan' | 'ipvlan' | 'dummy';

/** What each feature is called in a refusal, and the kernel option that provides it. */
export const FEATURES: Record<KernelFeature, { what: string; config: string }> = {
  vlan: { what: '802.1Q VLAN support', config: 'CONFIG_VLAN_8021Q' },
  ipvlan: { what: 'IPvlan support', config: 'CONFIG_IPVLAN' },
  dummy: { what: 'dummy network device support', config: 'CONFIG_DUMMY' },
};

/** `ip link add` arguments for a throwaway device of the feature's type; kp0 is a veth to stand on. */
export const PROBE_ARGS: Record<KernelFeature, string[]> = {
  vlan: ['link', 'add', 'link', 'kp0', 'name', 'kp0.1', 'type', 'vlan', 'id', '1'],
  ipvlan: ['link', 'add', 'link', 'kp0', 'name', 'kp2', 'type', 'ipvlan', 'mode', 'l2'],
  dummy: ['link', 'add', 'kp3', 'type', 'dummy'],
};

export type ProbeOutcome = { ok: true } | { ok: false; stderr: string };

/**
 * Whether the kernel has the feature, from how `ip link add` of its type ended: made means present;
 * "Unknown device type" (no rtnetlink ops registered for it, no module to load) or "not supported"
 * means absent; anything else is a failure of the probe, not an answer.
 */
export function kernelHas(feature: KernelFeature, outcome: ProbeOutcome): boolean {
  if (outcome.ok) return true;
  if (/Unknown device type|Operation not supported|not supported/i.test(outcome.stderr)) return false;
  throw new Error(`probing the kernel for ${FEATURES[feature].config} failed: ${outcome.stderr.trim()}`);
}

/** The refusal when a network needs a feature the kernel lacks: names the feature and its option. */
export function missingFeature(feature: KernelFeature, needed: string, hint?: string): NetworkDriverError {
  const f = FEATURES[feature];
  return new NetworkDriverError(
    `${needed} requires ${f.what} (${f.config}), which this kernel lacks${hint ? `; ${hint}` : ''}`,
  );
}

/**
 * Asks the kernel: a namespace `<prefix>-kp<random>` with a veth in it, one device of the feature's
 * type, and the namespace deleted whatever happened (its devices go with it). Nothing touches the
 * node's own namespace.
 */
export async function probeKernel(prefix: string, feature: KernelFeature): Promise<boolean> {
  const netns = `${prefix}-kp${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', netns]);
  try {
    await run('ip', ['-n', netns, 'link', 'add', 'kp0', 'type', 'veth', 'peer', 'name', 'kp1']);
    let outcome: ProbeOutcome = { ok: true };
    try {
      await run('ip', ['-n', netns, ...PROBE_ARGS[feature]]);
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      outcome = { ok: false, stderr: err.stderr };
    }
    return kernelHas(feature, outcome);
  } finally {
    await run('ip', ['netns', 'del', netns], { okIfAbsent: true });
  }
}

/** One answer per feature for the life of the process (a kernel does not gain or lose link types). */
export class KernelFeatures {
  private readonly answers = new Map<KernelFeature, Promise<boolean>>();

  constructor(private readonly probe: (feature: KernelFeature) => Promise<boolean>) {}

  has(feature: KernelFeature): Promise<boolean> {
    let answer = this.answers.get(feature);
    if (!answer) {
      answer = this.probe(feature);
      this.answers.set(feature, answer);
      // A failed probe is not an answer: the next call asks again.
      answer.catch(() => this.answers.delete(feature));
    }
    return answer;
  }
}
