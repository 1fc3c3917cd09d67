// Keeps a node certificate fresh: wakes at its renewal point (the CA's rule: half-life counted from
// issuance), renews, and retries every few seconds while no manager answers. Waits are capped at an
// hour so a long one notices clock jumps.
import { needsRenewal, renewalTime } from '../manager/index.js';

const RETRY_MS = 5_000;
const MAX_WAIT_MS = 3_600_000;

export class CertificateRenewer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(
    /** The certificate in use now (PEM), or undefined when the node has none. */
    private readonly current: () => string | undefined,
    /** Renews and installs a new certificate; throws when no manager could do it. */
    private readonly renew: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs?: number): void {
    clearTimeout(this.timer);
    const certPem = this.current();
    if (this.stopped || !certPem) return;
    const wait = delayMs ?? renewalTime(certPem).getTime() - Date.now();
    this.timer = setTimeout(() => void this.fire(), Math.min(Math.max(wait, 0), MAX_WAIT_MS));
    this.timer.unref();
  }

  private async fire(): Promise<void> {
    const certPem = this.current();
    if (this.stopped || !certPem) return;
    if (!needsRenewal(certPem)) return this.schedule();
    try {
      await this.renew();
      this.schedule();
    } catch (err) {
      this.onError(err);
      this.schedule(RETRY_MS);
    }
  }
}
