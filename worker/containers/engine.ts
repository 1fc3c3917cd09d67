// The node's standalone containers (`swarmlite run`, `ps`, `start`, `stop`, `rm`, ...): the thin shell
// around the pure rules of lifecycle.ts and restart-policy.ts. Each container is one task of a task
// runtime of its own (worker/exec: the same OCI runtime, images and isolation as service tasks), with
// the container's id as the task id; its record (store.ts) is written after every change, so a
// restarted daemon adopts what still runs, notes what ended meanwhile, and applies restart policies.
// Operations on one container run one at a time (a keyed mutex); names are taken under one lock.
import { EventEmitter } from 'node:events';
import type { TaskSpec } from '../../api/objects/index.js';
import type { Logger } from '../../lib/log.js';
import { KeyedMutex, Mutex } from '../../lib/mutex.js';
import type {
  ContainerOptions,
  Executor,
  ExecHandle,
  ExecOptions,
  LogLine,
  TaskLaunch,
} from '../agent/executor.js';
import {
  exited,
  isActive,
  NEW_STATE,
  refusal,
  restarting,
  started,
  startFailed,
  stopRequested,
  type ContainerConfig,
  type ContainerRecord,
  type HostConfig,
  type UserAction,
} from './lifecycle.js';
import { usesEmbeddedDns } from './dns-records.js';
import { checkContainerName, findByRef, generateName, newContainerId } from './names.js';
import {
  connectRefusal,
  defaultRouteNetwork,
  disconnectTarget,
  networksOf,
  nextIfName,
  type ConnectRequest,
} from './connections.js';
import {
  runtimeNetworkOptions,
  type ContainerNetworks,
  type NetworkAttachment,
  type NetworkSettings,
} from './network.js';
import { decideRestart, startAtDaemonStart } from './restart-policy.js';
import type { ContainerStore } from './store.js';

/** What the engine needs of a task runtime (worker/exec's TaskRuntime). */
export type ContainerRuntime = Pick<
  Executor,
  'prepare' | 'start' | 'wait' | 'stop' | 'remove' | 'list' | 'logs' | 'exec' | 'netnsPath'
> & {
  reset(taskId: string): Promise<void>;
  logsWritten(taskId: string, timeoutMs: number): Promise<boolean>;
  /** Absent: the container's resolv.conf stays as made (runtimes of the engine's unit tests). */
  rewriteResolvConf?(
    taskId: string,
    mode: NonNullable<ContainerOptions['resolvConf']>,
    dns: TaskSpec['dns'],
  ): Promise<void>;
};

/** The node's image store as far as `run` needs it. */
export interface ContainerImages {
  present(ref: string): boolean;
  /** Pulls the image; throws the registry's refusal or `No such image`. */
  pull(ref: string): Promise<void>;
}

export type PullPolicy = 'missing' | 'never' | 'always';

export interface CreateRequest {
  /** '' or absent: a generated one. */
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  pull: PullPolicy;
}

/** A refusal of the user's request: said as it is, nothing changed. */
export class ContainerError extends Error {
  constructor(
    message: string,
    readonly kind: 'not-found' | 'conflict' | 'invalid',
  ) {
    super(message);
    this.name = 'ContainerError';
  }
}

export interface EngineOptions {
  store: ContainerStore;
  runtime: ContainerRuntime;
  images: ContainerImages;
  networks: ContainerNetworks;
  log: Logger;
  /** Every change of a record (undefined: removed); the embedded DNS follows which containers run. */
  onRecord?: (id: string, r: ContainerRecord | undefined) => void;
  /** The node's resolv.conf (the daemon's --resolv-conf), which containers' files are made from. */
  nodeResolvConf?: string;
  /** Docker's default stop timeout. */
  stopTimeoutMs?: number;
  now?: () => Date;
}

/** Docker refuses memory limits under 6 MiB. */
const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
/**
 * Once a followed container has stopped, how long its log writers may take to write its last lines
 * (they end with its last process); a follow ends after that even if they have not.
 */
const LOG_WRITERS_MS = 10_000;

export class ContainerEngine {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly locks = new KeyedMutex();
  private readonly names = new Mutex();
  private readonly watching = new Map<string, AbortController>();
  /** Follows of each container's logs still reading: its removal waits for them (`run --rm`). */
  private readonly readers = new Map<string, Set<Promise<void>>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly changes = new EventEmitter();
  private readonly stopTimeoutMs: number;
  private readonly now: () => Date;
  private closed = false;

  constructor(private readonly o: EngineOptions) {
    this.stopTimeoutMs = o.stopTimeoutMs ?? 10_000;
    this.now = o.now ?? (() => new Date());
    this.changes.setMaxListeners(0);
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  private save(r: ContainerRecord): void {
    this.o.store.save(r);
    this.records.set(r.id, r);
    this.changes.emit(r.id, r);
    this.o.onRecord?.(r.id, r);
  }

  private get(ref: string): ContainerRecord {
    try {
      return findByRef([...this.records.values()], ref);
    } catch (err) {
      throw new ContainerError(
        (err as Error).message,
        /^No such/.test((err as Error).message) ? 'not-found' : 'invalid',
      );
    }
  }

  private check(r: ContainerRecord, action: UserAction, force = false): void {
    const why = refusal(r, action, force);
    if (why) throw new ContainerError(why, 'conflict');
  }

  list(all: boolean): ContainerRecord[] {
    const out = [...this.records.values()].filter((r) => all || isActive(r.state));
    return out.sort((a, b) => b.created.localeCompare(a.created) || a.id.localeCompare(b.id));
  }

  inspect(ref: string): ContainerRecord {
    return this.get(ref);
  }

  /** Reads the records, adopts what runs, notes what ended, applies restart policies, drops orphans. */
  async open(): Promise<void> {
    const { records, problems } = this.o.store.load();
    for (const p of problems) this.o.log.warn({ file: p }, 'container record skipped');
    const tasks = new Map((await this.o.runtime.list()).map((t) => [t.taskId, t]));
    // A record older than `network connect` kept its one network as `networkSettings`.
    for (const old of records) {
      const { networkSettings: _old, ...r } = old;
      const networks = networksOf(old);
      this.records.set(r.id, networks ? { ...r, networks } : r);
    }
    // Addresses and ports stay their containers' even before (or without) a replayed attach.
    for (const r of this.records.values())
      for (const leg of r.networks ?? []) this.o.networks.remember?.(this.attachment(r, leg));
    // A runtime task without a record: a create that a crash cut short.
    for (const id of tasks.keys())
      if (!this.records.has(id))
        await this.o.runtime
          .remove(id)
          .catch((err: unknown) => this.o.log.warn({ id, err }, 'orphan container task'));
    for (const r of [...this.records.values()]) {
      await this.locks
        .run(r.id, () => this.resume(r, tasks.get(r.id)))
        .catch((err: unknown) => this.o.log.warn({ container: r.name, err }, 'container not resumed'));
    }
  }

  private async resume(
    r: ContainerRecord,
    task: Awaited<ReturnType<ContainerRuntime['list']>>[number] | undefined,
  ): Promise<void> {
    const wasRunning = isActive(r.state);
    // Drivers that keep their state in memory learn the sandboxes again (attach is idempotent).
    if (task && r.state.status !== 'removing') r = await this.attachAll(r);
    if (task?.state === 'running') {
      this.save({ ...r, state: { ...r.state, status: 'running', pid: task.pid ?? r.state.pid } });
      this.watch(r.id);
      return;
    }
    if (r.state.status === 'removing') return this.removeNow(r);
    let state = r.state;
    // Ended while no daemon watched; no task at all: the node restarted (Docker says 255 then).
    if (wasRunning) state = exited(state, this.stamp(), task?.exit ?? { exitCode: 255, oomKilled: false });
    this.save({ ...r, state });
    if (wasRunning && r.hostConfig.autoRemove) return this.removeNow(this.records.get(r.id)!);
    const again = startAtDaemonStart(r.hostConfig.restartPolicy, {
      wasRunning,
      manuallyStopped: state.manuallyStopped,
      exitCode: state.exitCode,
      restartCount: state.restartCount,
    });
    if (again) await this.startNow(this.records.get(r.id)!, false);
  }

  /** Stops watching (the daemon stops); the containers run on for the next daemon to adopt. */
  close(): void {
    this.closed = true;
    for (const a of this.watching.values()) a.abort();
    for (const t of this.timers.values()) clearTimeout(t);
    this.watching.clear();
    this.timers.clear();
  }

  async create(req: CreateRequest): Promise<ContainerRecord> {
    const { hostConfig, config } = req;
    if (hostConfig.memoryBytes !== 0 && hostConfig.memoryBytes < MIN_MEMORY_BYTES)
      throw new ContainerError('Minimum memory limit allowed is 6MB', 'invalid');
    if (hostConfig.autoRemove && hostConfig.restartPolicy.name !== 'no')
      throw new ContainerError('conflicting options: cannot specify both --restart and --rm', 'invalid');
    await this.ensureImage(config.image, req.pull);
    // The name is held from here until the record is saved or the create fails.
    const record = await this.names.run(async () => {
      const taken = (n: string) => [...this.records.values()].some((r) => r.name === n);
      let name = req.name ?? '';
      if (name) {
        checkName(name);
        const holder = [...this.records.values()].find((r) => r.name === name);
        if (holder)
          throw new ContainerError(
            `Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
            'conflict',
          );
      } else name = generateName(taken, (n) => Math.floor(Math.random() * n));
      const r: ContainerRecord = {
        id: newContainerId(),
        name,
        created: this.stamp(),
        config,
        hostConfig,
        state: NEW_STATE,
      };
      this.records.set(r.id, r);
      return r;
    });
    try {
      await this.o.runtime.prepare(this.launch(record));
      const attached = await this.attachAll(record);
      this.save(attached);
      return attached;
    } catch (err) {
      this.records.delete(record.id);
      await this.o.runtime.remove(record.id).catch(() => undefined);
      throw new ContainerError((err as Error).message, 'invalid');
    }
  }

  private async ensureImage(ref: string, pull: PullPolicy): Promise<void> {
    const present = this.o.images.present(ref);
    if (pull === 'never' && !present) throw new ContainerError(`No such image: ${ref}`, 'not-found');
    if (pull === 'always' || !present) {
      try {
        await this.o.images.pull(ref);
      } catch (err) {
        throw new ContainerError(
          (err as Error).message,
          /No such image|not found/i.test((err as Error).message) ? 'not-found' : 'invalid',
        );
      }
    }
  }

  /** The attach of one of the container's networks: `leg` as it has it, else the one it is created on. */
  private attachment(r: ContainerRecord, leg?: NetworkSettings): NetworkAttachment {
    const h = r.hostConfig;
    const netnsPath =
      h.networkMode === 'host' ? `/proc/${process.pid}/ns/net` : this.o.runtime.netnsPath(r.id);
    return {
      containerId: r.id,
      containerName: r.name,
      mode: leg?.networkId ?? h.networkMode,
      netnsPath,
      image: r.config.image,
      portBindings: h.portBindings ?? [],
      publishAllPorts: h.publishAllPorts ?? false,
      ...(h.dns?.length ? { dns: h.dns } : {}),
      // `--network-alias` names the container on the network it is created on (kept in its leg).
      ...(!leg && h.networkAliases?.length ? { aliases: [...h.networkAliases] } : {}),
      ...(leg ? { settings: leg, ifName: leg.ifName ?? 'eth0' } : {}),
    };
  }

  /**
   * Attaches every network of the container in connect order (idempotent: a replay keeps each one's
   * address and interface), the default route through the first with a gateway; the first attach of
   * all is the network it is created on, as eth0. The record kept in memory; the caller saves.
   */
  private async attachAll(r: ContainerRecord): Promise<ContainerRecord> {
    const current = networksOf(r);
    let networks: NetworkSettings[] | undefined;
    if (!current) {
      const first = await this.o.networks.attach({
        ...this.attachment(r),
        ifName: 'eth0',
        defaultRoute: true,
      });
      networks = first ? [first] : undefined;
    } else {
      const route = defaultRouteNetwork(current);
      networks = [];
      for (const leg of current) {
        const a = { ...this.attachment(r, leg), defaultRoute: leg.networkId === route };
        networks.push((await this.o.networks.attach(a)) ?? leg);
      }
    }
    if (!networks) return r;
    const next = { ...r, networks };
    this.records.set(r.id, next);
    return next;
  }

  /** The sandbox is there (made again when a reboot took it), every network of the record attached. */
  private async ensureSandbox(r: ContainerRecord): Promise<ContainerRecord> {
    if ((await this.o.runtime.list()).some((t) => t.taskId === r.id)) return r;
    await this.o.runtime.prepare(this.launch(r));
    return this.attachAll(r);
  }

  /**
   * `network connect`: one more network, as the next free ethN; plugged in at once (the sandbox lives
   * from create to removal, running or not), so a stopped container has it at its next start.
   */
  async connect(ref: string, network: string, req: ConnectRequest): Promise<ContainerRecord> {
    const { id } = this.get(ref);
    return this.locks.run(id, async () => {
      let r = this.get(id);
      const net = this.o.networks.describe?.(network);
      if (!net) throw new ContainerError(`network ${network} not found`, 'not-found');
      const why = connectRefusal(r, networksOf(r) ?? [], net, req);
      if (why) throw new ContainerError(why, 'conflict');
      try {
        r = await this.ensureSandbox(r);
      } catch (err) {
        throw new ContainerError((err as Error).message, 'invalid');
      }
      const current = networksOf(r) ?? [];
      let leg: NetworkSettings | undefined;
      try {
        leg = await this.o.networks.attach({
          ...this.attachment(r),
          mode: net.id,
          ifName: nextIfName(current),
          // The default route is the first network's with a gateway: this one's only if none has one.
          defaultRoute: defaultRouteNetwork(current) === undefined,
          portBindings: [],
          publishAllPorts: false,
          ...(req.ip !== undefined ? { requestedIp: req.ip } : {}),
          aliases: [...req.aliases],
        });
      } catch (err) {
        throw new ContainerError((err as Error).message, 'invalid');
      }
      if (!leg) throw new ContainerError(`network ${network} not found`, 'not-found');
      // The first user network of a container made on the default bridge: its resolv.conf now says
      // 127.0.0.11 (the sockets were opened by the attach), as Docker's sandbox does at such a join.
      // A disconnect leaves it so, as Docker's does: the resolver stays and still forwards.
      // Written again at each such connect (the same file: the node's search and options, --dns).
      if (usesEmbeddedDns(leg.networkName) && !usesEmbeddedDns(r.hostConfig.networkMode)) {
        const { resolvConf } = runtimeNetworkOptions(leg.networkName, this.o.nodeResolvConf);
        try {
          await this.o.runtime.rewriteResolvConf?.(r.id, resolvConf!, this.launch(r).spec.dns);
        } catch (err) {
          // The leg is there and kept; only the file is behind: said, not undone.
          this.o.log.warn({ err, container: r.name }, 'resolv.conf not rewritten for the embedded DNS');
        }
      }
      const next = { ...r, networks: [...current, leg] };
      this.save(next);
      return next;
    });
  }

  /**
   * `network disconnect`: the network's interface goes; when it carried the default route, the next
   * network with a gateway takes it. `force`: also from a network the node no longer has.
   */
  async disconnect(ref: string, network: string, force: boolean): Promise<ContainerRecord> {
    const { id } = this.get(ref);
    return this.locks.run(id, async () => {
      const r = this.get(id);
      const net = this.o.networks.describe?.(network);
      if (!net && !force) throw new ContainerError(`network ${network} not found`, 'not-found');
      const current = networksOf(r) ?? [];
      const leg = disconnectTarget(r, current, network, net);
      if (typeof leg === 'string') throw new ContainerError(leg, 'conflict');
      const rest = current.filter((s) => s !== leg);
      try {
        await this.o.networks.detach(this.attachment(r, leg));
        const route = defaultRouteNetwork(rest);
        const live = (await this.o.runtime.list()).some((t) => t.taskId === r.id);
        if (live && route && defaultRouteNetwork(current) === leg.networkId) {
          const heir = rest.find((s) => s.networkId === route)!;
          await this.o.networks.attach({ ...this.attachment(r, heir), defaultRoute: true });
        }
      } catch (err) {
        throw new ContainerError((err as Error).message, 'invalid');
      }
      const next = { ...r, networks: rest };
      this.save(next);
      return next;
    });
  }

  private launch(r: ContainerRecord): TaskLaunch {
    const c = r.config;
    const spec: TaskSpec = {
      image: c.image,
      command: c.entrypoint ?? [],
      args: c.cmd,
      env: c.env,
      workdir: c.workdir,
      user: c.user,
      hostname: c.hostname,
      dns: { nameservers: r.hostConfig.dns ?? [], search: [], options: [] },
      resources: {
        limits: { memoryBytes: r.hostConfig.memoryBytes, nanoCpus: r.hostConfig.nanoCpus },
        reservations: { memoryBytes: 0, nanoCpus: 0 },
      },
      restartPolicy: { condition: 'none', delayMs: 0, maxAttempts: 0, windowMs: 0 },
      placement: { constraints: [] },
      networks: [],
      stopGracePeriodMs: this.stopTimeoutMs,
      forceUpdate: 0,
    };
    return {
      taskId: r.id,
      name: r.name,
      serviceId: '',
      serviceName: '',
      slot: 0,
      spec,
      container: runtimeNetworkOptions(
        r.hostConfig.networkMode,
        this.o.nodeResolvConf,
        (networksOf(r) ?? []).map((s) => s.networkName),
      ),
    };
  }

  async start(ref: string): Promise<ContainerRecord> {
    const { id } = this.get(ref);
    return this.locks.run(id, async () => {
      const r = this.get(id);
      this.check(r, 'start');
      if (r.state.status === 'running') return r;
      return this.startNow(r, true);
    });
  }

  /** Under the container's lock. */
  private async startNow(r: ContainerRecord, byUser: boolean): Promise<ContainerRecord> {
    this.cancelRestart(r.id);
    try {
      const known = (await this.o.runtime.list()).find((t) => t.taskId === r.id);
      if (!known) {
        // The sandbox is gone (the node restarted): made again from the record.
        await this.o.runtime.prepare(this.launch(r));
        r = await this.attachAll(r);
      } else if (known.state === 'exited') await this.o.runtime.reset(r.id);
      const { pid } = await this.o.runtime.start(r.id);
      const next = { ...r, state: started(r.state, this.stamp(), pid, byUser) };
      this.save(next);
      this.watch(r.id);
      return next;
    } catch (err) {
      const message = (err as Error).message;
      this.save({ ...r, state: startFailed(r.state, this.stamp(), message) });
      throw new ContainerError(message, 'invalid');
    }
  }

  /** Follows the running process; its end goes through the restart policy. */
  private watch(id: string): void {
    if (this.closed) return;
    this.watching.get(id)?.abort();
    const abort = new AbortController();
    this.watching.set(id, abort);
    const run = this.records.get(id)!.state.startedAt;
    this.o.runtime.wait(id, abort.signal).then(
      (exit) => {
        if (abort.signal.aborted) return;
        this.watching.delete(id);
        void this.locks
          .run(id, () => this.ended(id, run, exit))
          .catch((err: unknown) => this.o.log.warn({ id, err }, 'container exit not handled'));
      },
      (err: unknown) => {
        if (!abort.signal.aborted) this.o.log.warn({ id, err }, 'container wait failed');
      },
    );
  }

  /** Under the lock: the run that started at `run` ended (unless a stop already recorded it). */
  private async ended(
    id: string,
    run: string,
    exit: { exitCode: number; oomKilled: boolean },
  ): Promise<void> {
    const r = this.records.get(id);
    if (!r || r.state.status !== 'running' || r.state.startedAt !== run) return;
    const now = this.stamp();
    const state = exited(r.state, now, exit);
    if (r.hostConfig.autoRemove) return this.removeNow({ ...r, state });
    const decision = decideRestart(r.hostConfig.restartPolicy, {
      exitCode: exit.exitCode,
      manuallyStopped: state.manuallyStopped,
      restartCount: state.restartCount,
      ranMs: Date.parse(now) - Date.parse(run),
      previousDelayMs: state.restartDelayMs,
    });
    if (!decision.restart) return this.save({ ...r, state });
    this.save({ ...r, state: restarting(state, decision.delayMs) });
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        void this.locks
          .run(id, async () => {
            const now = this.records.get(id);
            if (now?.state.status === 'restarting' && !this.closed) await this.startNow(now, false);
          })
          .catch((err: unknown) => this.o.log.warn({ id, err }, 'container restart failed'));
      }, decision.delayMs),
    );
  }

  private cancelRestart(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  async stop(ref: string, timeoutMs?: number): Promise<ContainerRecord> {
    const { id } = this.get(ref);
    return this.locks.run(id, () => this.stopNow(this.get(id), timeoutMs ?? this.stopTimeoutMs));
  }

  /** Under the lock: the policy is told first, so the end is not taken for a crash. */
  private async stopNow(r: ContainerRecord, graceMs: number): Promise<ContainerRecord> {
    this.check(r, 'stop');
    this.cancelRestart(r.id);
    let state = stopRequested(r.state);
    if (r.state.status === 'restarting') state = { ...state, status: 'exited' };
    this.save({ ...r, state });
    if (r.state.status !== 'running') return this.records.get(r.id)!;
    await this.o.runtime.stop(r.id, graceMs);
    this.watching.get(r.id)?.abort();
    this.watching.delete(r.id);
    const exit = await this.o.runtime.wait(r.id);
    const next = { ...r, state: exited(state, this.stamp(), exit) };
    if (r.hostConfig.autoRemove) {
      await this.removeNow(next);
      return next;
    }
    this.save(next);
    return next;
  }

  async restart(ref: string, timeoutMs?: number): Promise<ContainerRecord> {
    const { id } = this.get(ref);
    return this.locks.run(id, async () => {
      const stopped = await this.stopNow(this.get(id), timeoutMs ?? this.stopTimeoutMs);
      if (!this.records.has(id)) return stopped; // --rm took it
      return this.startNow(this.get(id), true);
    });
  }

  async remove(ref: string, force: boolean): Promise<string> {
    const { id } = this.get(ref);
    return this.locks.run(id, async () => {
      const r = this.get(id);
      this.check(r, 'remove', force);
      await this.removeNow(r);
      return id;
    });
  }

  /** Under the lock: marked first, so a crash halfway is finished by the next daemon. */
  private async removeNow(r: ContainerRecord): Promise<void> {
    this.cancelRestart(r.id);
    this.watching.get(r.id)?.abort();
    this.watching.delete(r.id);
    this.save({ ...r, state: { ...stopRequested(r.state), status: 'removing' } });
    await this.o.runtime.stop(r.id, 0);
    await this.readersDone(r.id);
    for (const leg of networksOf(r) ?? []) await this.o.networks.detach(this.attachment(r, leg));
    await this.o.runtime.remove(r.id);
    this.o.store.delete(r.id);
    this.records.delete(r.id);
    this.changes.emit(r.id, undefined);
    this.o.onRecord?.(r.id, undefined);
  }

  async rename(ref: string, newName: string): Promise<ContainerRecord> {
    const { id } = this.get(ref);
    return this.locks.run(id, () =>
      this.names.run(async () => {
        const r = this.get(id);
        this.check(r, 'rename');
        checkName(newName);
        if (newName === r.name)
          throw new ContainerError(`Renaming a container with the same name as its current name`, 'invalid');
        const holder = [...this.records.values()].find((c) => c.name === newName);
        if (holder)
          throw new ContainerError(
            `Conflict. The container name "/${newName}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
            'conflict',
          );
        const next = { ...r, name: newName };
        this.save(next);
        return next;
      }),
    );
  }

  /** Removes every container that is not running; their ids. */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const r of this.list(true)) {
      if (isActive(r.state)) continue;
      await this.locks.run(r.id, async () => {
        const now = this.records.get(r.id);
        if (now && !isActive(now.state) && now.state.status !== 'removing') {
          await this.removeNow(now);
          removed.push(r.id);
        }
      });
    }
    return removed;
  }

  /** Resolves with the exit code once the container is not running (at once if it is not). */
  async wait(ref: string, signal?: AbortSignal): Promise<number> {
    const r = this.get(ref);
    if (!isActive(r.state)) return r.state.exitCode;
    let code = r.state.exitCode;
    return new Promise<number>((resolve, reject) => {
      const onChange = (next: ContainerRecord | undefined) => {
        if (next) code = next.state.exitCode;
        // `removing` still carries the exit of a --rm container; its removal (undefined) ends the wait.
        if (next && (isActive(next.state) || next.state.status === 'removing')) return;
        this.changes.off(r.id, onChange);
        resolve(code);
      };
      this.changes.on(r.id, onChange);
      signal?.addEventListener('abort', () => {
        this.changes.off(r.id, onChange);
        reject(signal.reason);
      });
    });
  }

  /**
   * Its log lines; following ends once the container has stopped (and its last lines are read).
   * `attach` (`run` in the foreground): follow until the container's next stop even if it is not
   * running yet; `onAttached` once listening (the caller starts the container then), `onStopped` with
   * its exit code at the end.
   */
  async *logs(
    ref: string,
    opts: {
      tail?: number;
      follow: boolean;
      attach?: boolean;
      signal?: AbortSignal;
      onAttached?: () => void;
      onStopped?: (exitCode: number) => void;
    },
  ): AsyncIterable<LogLine> {
    const r = this.get(ref);
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    opts.signal?.addEventListener('abort', onAbort);
    let seenActive = !opts.attach;
    let code: number | undefined;
    // Stopped: the writers' end says when its last lines are in the files; the follow reads them
    // and ends then (a timer instead lost a quick command's output under load, and `--rm` removed
    // the files before they were read).
    let stopped = false;
    let written = false;
    const onStopped = () => {
      if (stopped) return;
      stopped = true;
      void this.o.runtime.logsWritten(r.id, LOG_WRITERS_MS).finally(() => (written = true));
    };
    const onChange = (next: ContainerRecord | undefined) => {
      if (next && isActive(next.state)) {
        seenActive = true;
        return;
      }
      if (next?.state.status === 'removing') {
        seenActive = true;
        code = next.state.exitCode;
        return onStopped();
      }
      if (!seenActive && next) return;
      code = next?.state.exitCode ?? code;
      onStopped();
    };
    const following = opts.follow || opts.attach === true;
    let doneReading: () => void = () => undefined;
    if (following) {
      const reading = new Promise<void>((resolve) => (doneReading = resolve));
      const set = this.readers.get(r.id) ?? new Set();
      set.add(reading);
      this.readers.set(r.id, set);
      const untrack = () => {
        set.delete(reading);
        if (set.size === 0 && this.readers.get(r.id) === set) this.readers.delete(r.id);
      };
      void reading.then(untrack);
      this.changes.on(r.id, onChange);
      onChange(this.records.get(r.id));
      opts.onAttached?.();
    }
    try {
      yield* this.o.runtime.logs(r.id, {
        ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
        follow: following,
        signal: abort.signal,
        finished: () => written,
      });
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    } finally {
      doneReading();
      this.changes.off(r.id, onChange);
      opts.signal?.removeEventListener('abort', onAbort);
    }
    if (following && code !== undefined && !opts.signal?.aborted) opts.onStopped?.(code);
  }

  /** Under the container's lock, before its files go: the follows still reading get to finish. */
  private async readersDone(id: string): Promise<void> {
    const set = this.readers.get(id);
    if (!set?.size) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, LOG_WRITERS_MS + 5_000)));
    await Promise.race([Promise.all(set), bound]);
    clearTimeout(timer);
  }

  async exec(ref: string, argv: string[], opts: ExecOptions): Promise<ExecHandle> {
    const r = this.get(ref);
    this.check(r, 'exec');
    return this.o.runtime.exec(r.id, argv, opts);
  }
}

function checkName(name: string): void {
  try {
    checkContainerName(name);
  } catch (err) {
    throw new ContainerError((err as Error).message, 'invalid');
  }
}
