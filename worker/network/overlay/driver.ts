// The overlay driver's shell: plain data in (OverlayDesiredState), kernel state out. Each sync reads
// the kernel, plans the difference (plan.ts, pure) and runs the steps through ip/bridge/nft/sysctl,
// one serialized queue per network sandbox plus one for the node-level gateway bridge, so kernel
// changes for one network never interleave while different networks proceed in parallel. The endpoint
// namespaces the driver makes itself (the ingress sandbox) have a queue of their own, run before the
// others (made before legs go in) and after them (removed once the legs are out).
//
// Nothing is remembered between syncs: every sync starts from what the kernel has, which is what makes
// a restarted daemon (a new driver) converge without duplicates or stale entries.
import { existsSync } from 'node:fs';
import { KeyedMutex, Mutex } from '../../../lib/mutex.js';
import { NETNS_PREFIX_PATTERN } from '../../../lib/netns-prefix.js';
import type { Logger } from '../../../lib/log.js';
import { findTool, isAbsentError, requireTools, run } from '../../../lib/exec.js';
import { errorMessage } from '../../../lib/errors.js';
import { argvOf, describeCommand, inSandbox, ip, bridge, redactKeys } from './commands.js';
import { espDesired, planEsp } from './plan-esp.js';
import { observeEsp } from './observe-esp.js';
import { sandboxesWanted, type PlanContext } from './desired.js';
import { ownNamespacesWanted } from './plan-namespaces.js';
import { sandboxName, SANDBOX_VXLAN } from './names.js';
import {
  listSandboxes,
  observeNode,
  observeOwnNamespaces,
  observeSandbox,
  observeUnderlayMtu,
  parseLinks,
  type LinkInfo,
} from './observe.js';
import { planGateway, planOwnNamespaces, planSandbox } from './plan.js';
import type { Command, OverlayDesiredState, Step } from './types.js';

export interface OverlayDriverOptions {
  /** The daemon's netns prefix: the start of every name the driver creates. */
  prefix: string;
  /**
   * The named namespace that stands for "the node" (lab hosts and tests); undefined: the daemon's own.
   */
  nodeNetns?: string;
  log?: Logger;
}

export interface StepFailure {
  /** The queue: a sandbox name, or 'gateway'. */
  scope: string;
  why: string;
  error: string;
}

export interface SyncReport {
  /** Steps run (successful or not). */
  steps: number;
  failures: StepFailure[];
}

/** What `network inspect --verbose` shows of one network on this node. */
export interface OverlayNetworkView {
  sandbox: string;
  exists: boolean;
  devices: LinkInfo[];
  /** `ip neigh show dev vxlan0` in the sandbox, as printed. */
  neighbors: string;
  /** `bridge fdb show dev vxlan0` in the sandbox, as printed. */
  fdb: string;
}

const GATEWAY_SCOPE = 'gateway';
const ESP_SCOPE = 'esp';
const NAMESPACES_SCOPE = 'namespaces';

export class OverlayDriver {
  /** One queue per sandbox scope; an idle queue is forgotten, so a node that saw many networks keeps none. */
  private readonly queues = new KeyedMutex();
  /** Serializes steps that use a shared temporary name in the node's namespace. */
  private readonly nodeLock = new Mutex();
  private readonly ctx: PlanContext;
  /**
   * Whether the kernel may hold ESP entries of this prefix: true until a sync found none and wanted
   * none (a restarted daemon cleans what the last one left), then only while encrypted networks are
   * here; so a node without them does not read xfrm and nftables on every sync.
   */
  private espMaybePresent = true;

  /** Throws a MissingToolError naming the packages to install if a tool the driver runs is missing. */
  constructor(private readonly opts: OverlayDriverOptions) {
    requireTools(['ip', 'bridge', 'nft', 'nsenter', 'sysctl']);
    // Ownership of names rests on the prefix having no '_' (names.ts).
    if (!NETNS_PREFIX_PATTERN.test(opts.prefix))
      throw new RangeError(`invalid netns prefix '${opts.prefix}'`);
    this.ctx = {
      prefix: opts.prefix,
      nodeNetnsPath: opts.nodeNetns ? `/run/netns/${opts.nodeNetns}` : `/proc/${process.pid}/ns/net`,
    };
  }

  /**
   * Makes the kernel match `desired`. A failed step is reported (and retried by the next sync) while the
   * other queues go on; only a desired state that does not parse, or a node namespace that cannot be
   * read at all, throws.
   */
  async sync(desired: OverlayDesiredState): Promise<SyncReport> {
    return this.reconcileAll(desired, true);
  }

  /**
   * Removes everything of this prefix the driver makes: endpoint namespaces, sandboxes, gateway bridge,
   * legs, nft table. Idempotent; a node namespace already gone (a lab torn down half-way) took its
   * gateway bridge, legs and table with it, so only the sandboxes and endpoint namespaces, namespaces
   * of their own, are left to remove.
   */
  async removeAll(): Promise<SyncReport> {
    const nodeGone = this.opts.nodeNetns !== undefined && !existsSync(this.ctx.nodeNetnsPath);
    return this.reconcileAll({ vtep: '', networks: [], tasks: [], peers: [] }, !nodeGone);
  }

  private async reconcileAll(desired: OverlayDesiredState, withNode: boolean): Promise<SyncReport> {
    const wanted = sandboxesWanted(this.opts.prefix, desired);
    ownNamespacesWanted(this.opts.prefix, desired); // a name not this prefix's is refused here, whole
    const made = await this.ownNamespaces(desired, 'make');
    const existing = await listSandboxes(this.exec, this.opts.prefix);
    const scopes = new Set([...wanted.keys(), ...existing.map((s) => s.netns)]);
    const underlayMtu = withNode ? await observeUnderlayMtu(this.exec, desired.vtep) : undefined;
    const reports = await Promise.all([
      ...[...scopes].sort().map((scope) =>
        this.enqueue(scope, () =>
          this.reconcile(scope, async () => {
            // Looked at again inside the queue: an earlier sync may have changed it meanwhile.
            const now = (await listSandboxes(this.exec, this.opts.prefix)).find((s) => s.netns === scope);
            const observed = now && (await observeSandbox(this.exec, now.netns, now.vni));
            return planSandbox(this.ctx, desired, scope, observed, underlayMtu);
          }),
        ),
      ),
      ...(withNode
        ? [
            this.enqueue(GATEWAY_SCOPE, () =>
              this.reconcile(GATEWAY_SCOPE, async () => {
                const fresh = await observeNode(this.exec, this.opts.prefix, desired.vtep);
                return planGateway(this.ctx, desired, fresh.gateway, fresh.strayTempVxlans);
              }),
            ),
          ]
        : []),
      ...(withNode ? [this.reconcileEsp(desired)] : []),
    ]);
    reports.push(made, await this.ownNamespaces(desired, 'remove'));
    return {
      steps: reports.reduce((n, r) => n + r.steps, 0),
      failures: reports.flatMap((r) => r.failures),
    };
  }

  /** The encrypted overlays' SAs, policies and nftables table (plan-esp.ts), in a queue of their own. */
  private reconcileEsp(desired: OverlayDesiredState): Promise<SyncReport> {
    const esp = espDesired(desired);
    if (esp.vnis.length === 0 && !this.espMaybePresent) return Promise.resolve({ steps: 0, failures: [] });
    return this.enqueue(ESP_SCOPE, async () => {
      let planned = 0;
      const report = await this.reconcile(ESP_SCOPE, async () => {
        const steps = planEsp(this.opts.prefix, esp, await observeEsp(this.exec, this.opts.prefix));
        planned = steps.length;
        return steps;
      });
      this.espMaybePresent = esp.vnis.length > 0 || planned > 0 || report.failures.length > 0;
      return report;
    });
  }

  /** One phase of the endpoint namespaces' plan, observed afresh inside their queue. */
  private ownNamespaces(desired: OverlayDesiredState, phase: 'make' | 'remove'): Promise<SyncReport> {
    return this.enqueue(NAMESPACES_SCOPE, () =>
      this.reconcile(NAMESPACES_SCOPE, async () => {
        const observed = await observeOwnNamespaces(this.exec, this.opts.prefix);
        return planOwnNamespaces(this.ctx, desired, observed)[phase];
      }),
    );
  }

  /** What this node actually programmed for the network with this VNI. */
  async inspect(vni: number): Promise<OverlayNetworkView> {
    const name = sandboxName(this.opts.prefix, vni);
    return this.enqueue(name, async () => {
      const exists = (await listSandboxes(this.exec, this.opts.prefix)).some((s) => s.netns === name);
      if (!exists) return { sandbox: name, exists, devices: [], neighbors: '', fdb: '' };
      const sb = inSandbox(name);
      const devices = parseLinks(await this.exec(ip(sb, '-d', '-j', 'addr', 'show')));
      const hasVxlan = devices.some((d) => d.ifName === SANDBOX_VXLAN);
      return {
        sandbox: name,
        exists,
        devices,
        neighbors: hasVxlan ? await this.exec(ip(sb, 'neigh', 'show', 'dev', SANDBOX_VXLAN)) : '',
        fdb: hasVxlan ? await this.exec(bridge(sb, 'fdb', 'show', 'dev', SANDBOX_VXLAN)) : '',
      };
    });
  }

  private readonly exec = async (cmd: Command): Promise<string> => {
    const [tool, ...args] = argvOf(cmd, this.opts.nodeNetns, findTool);
    return run(tool, args, { input: cmd.input });
  };

  private enqueue<T>(scope: string, work: () => Promise<T>): Promise<T> {
    return this.queues.run(scope, work);
  }

  private async withNodeLock<T>(work: () => Promise<T>): Promise<T> {
    return this.nodeLock.run(work);
  }

  /** Observe and plan (reading or planning can fail too: reported like a failed step), then run. */
  private async reconcile(scope: string, plan: () => Promise<Step[]>): Promise<SyncReport> {
    let steps: Step[];
    try {
      steps = await plan();
    } catch (err) {
      this.opts.log?.warn({ scope, err: errorMessage(err) }, 'overlay observe/plan failed');
      return {
        steps: 0,
        failures: [{ scope, why: 'read the kernel state and plan', error: errorMessage(err) }],
      };
    }
    return this.runSteps(scope, steps);
  }

  private async runSteps(scope: string, steps: Step[]): Promise<SyncReport> {
    const failures: StepFailure[] = [];
    let ran = 0;
    for (const step of steps) {
      ran++;
      try {
        if (step.nodeExclusive) await this.withNodeLock(() => this.runCommands(step));
        else await this.runCommands(step);
      } catch (err) {
        // A failed command's message repeats its argv: an SA's key must not reach the log with it.
        const error = redactKeys(errorMessage(err));
        failures.push({ scope, why: step.why, error });
        this.opts.log?.warn({ scope, step: step.why, err: error }, 'overlay step failed');
        if (step.required) break;
      }
    }
    return { steps: ran, failures };
  }

  private async runCommands(step: Step): Promise<void> {
    this.opts.log?.debug({ step: step.why }, 'overlay step');
    for (const cmd of step.commands) {
      this.opts.log?.trace({ cmd: redactKeys(describeCommand(cmd, this.opts.nodeNetns)) }, 'overlay command');
      try {
        await this.exec(cmd);
      } catch (err) {
        if (cmd.okIfAbsent && isAbsentError(err)) continue;
        throw err;
      }
    }
  }
}
