// For the driver's integration tests: the shared namespace fixture (lib/netns-fixture.ts) with a random
// tag and one random /24 of 198.19.200-250.0, plus fake task namespaces and ping helpers. The drivers
// under test get prefixes starting with the tag, so destroy() removes what they made too.
import { randomBytes, randomInt } from 'node:crypto';
import { NetnsFixture } from '../../../lib/netns-fixture.js';

export interface TestHost {
  netns: string;
  address: string;
}

export class TestUnderlay extends NetnsFixture {
  constructor() {
    // The tag starts every namespace name of this run; the drivers' prefixes start with it too.
    super(`ovt${randomBytes(2).toString('hex')}`, `198.19.${randomInt(200, 251)}`);
  }

  /** A task namespace (what the runtime would make); returns its path. */
  async addTask(name: string): Promise<string> {
    return `/run/netns/${await this.addNetns(name)}`;
  }

  taskNetns(name: string): string {
    return `${this.tag}-${name}`;
  }

  /** Whether `target` answers a ping; up to three tries, as a loaded machine may delay one past 1 s. */
  async ping(netns: string, target: string, extra: string[] = []): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.pingOnce(netns, target, ['-W', '1', ...extra])) return true;
    }
    return false;
  }

  private async pingOnce(netns: string, target: string, extra: string[]): Promise<boolean> {
    const r = await this.execIn(netns, ['ping', '-n', '-c', '1', ...extra, target]);
    return r.code === 0;
  }

  /** A ping that gets no answer within 0.3 s (answers inside one machine take well under 1 ms). */
  async unreachable(netns: string, target: string, extra: string[] = []): Promise<boolean> {
    return !(await this.pingOnce(netns, target, ['-W', '0.3', ...extra]));
  }
}
