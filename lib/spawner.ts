// Running short tools from a small process instead of the daemon itself. Linux has the daemon fork
// before each exec, and a fork copies the caller's page tables: from a Node daemon of 100-160 MB a
// spawn of `true` cost ~7 ms of the daemon's CPU and ~8 ms more in the child, against ~2 ms at
// 47 MB (measured on this machine, 2026-12-07). A task's prepare, start and removal run several
// tools (mount, ip, runc delete, umount), so the runtime hands them to one perl process (perl-base
// is Essential on Debian; ~5 MB) that forks them: Python's forkserver, for the same reason.
//
// Protocol, a line each way. Requests: `R <id> <hex argv...>` (run), `D <id> <hex log file> <hex
// PATH> <hex argv...>` (launch a long-lived process in a session of its own, cwd /, only PATH and
// LC_ALL=C in its environment, stdout and stderr appended to the file) and `K <id>` (SIGTERM it, a
// timeout). Replies: `<id> P <pid>` once a launch forked, `<id> <wait status>` when a child ended,
// `<id> F` when the fork failed. A run's stdout and stderr go to `<dir>/<id>.o` and `<id>.e` (read,
// then removed). The helper exits when its stdin closes (the daemon is gone); what it started runs on.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { CommandError, findTool, isAbsentError, TOOL_TIMEOUT_MS, type RunOptions } from './exec.js';

const HELPER = String.raw`
use strict; use warnings; use POSIX qw(:sys_wait_h);
my $dir = shift;
$| = 1;
pipe(my $wake_r, my $wake_w) or die "pipe: $!\n";
$wake_w->autoflush(1);
# A child's end wakes the select below (a self-pipe: no lost wake-up between the reaping and it).
$SIG{CHLD} = sub { syswrite($wake_w, 'x') };
my (%id_of, %pid_of);
my $buf = '';
sub reap {
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    my $id = delete $id_of{$pid};
    next unless defined $id;
    delete $pid_of{$id};
    print "$id $?\n";
  }
}
for (;;) {
  my $rin = '';
  vec($rin, fileno(STDIN), 1) = 1;
  vec($rin, fileno($wake_r), 1) = 1;
  my $n = select(my $rout = $rin, undef, undef, undef);
  if ($n > 0 && vec($rout, fileno($wake_r), 1)) { sysread($wake_r, my $drain, 4096) }
  reap();
  next unless $n > 0 && vec($rout, fileno(STDIN), 1);
  my $got = sysread(STDIN, $buf, 65536, length $buf);
  next if !defined $got && $!{EINTR};
  last unless $got;
  while ($buf =~ s/^([^\n]*)\n//) {
    my ($op, $id, @fields) = split / /, $1;
    next unless defined $id && $id =~ /^\d+$/;
    if ($op eq 'K') {
      kill 'TERM', $pid_of{$id} if $pid_of{$id};
      next;
    }
    if ($op eq 'D' && @fields >= 3) {
      my ($log, $path, @argv) = map { pack('H*', $_) } @fields;
      my $pid = fork();
      if (!defined $pid) { print "$id F\n"; next }
      if ($pid == 0) {
        $SIG{CHLD} = 'DEFAULT';
        POSIX::setsid();
        chdir('/') or POSIX::_exit(126);
        %ENV = (PATH => $path, LC_ALL => 'C');
        open(STDIN, '<', '/dev/null') or POSIX::_exit(126);
        open(STDOUT, '>>', $log) or POSIX::_exit(126);
        open(STDERR, '>&', \*STDOUT) or POSIX::_exit(126);
        exec { $argv[0] } @argv or do { print STDERR "cannot run $argv[0]: $!\n"; POSIX::_exit(127) };
      }
      $id_of{$pid} = $id;
      $pid_of{$id} = $pid;
      print "$id P $pid\n";
      next;
    }
    next unless $op eq 'R' && @fields;
    my @argv = map { pack('H*', $_) } @fields;
    my $pid = fork();
    if (!defined $pid) { print "$id F\n"; next }
    if ($pid == 0) {
      $SIG{CHLD} = 'DEFAULT';
      open(STDIN, '<', '/dev/null') or POSIX::_exit(126);
      open(STDOUT, '>', "$dir/$id.o") or POSIX::_exit(126);
      open(STDERR, '>', "$dir/$id.e") or POSIX::_exit(126);
      exec { $argv[0] } @argv or do { print STDERR "cannot run $argv[0]: $!\n"; POSIX::_exit(127) };
    }
    $id_of{$pid} = $id;
    $pid_of{$id} = $pid;
  }
}
`;

/** How a child of the spawner ended: its wait status, a failed fork, or neither (the spawner went away). */
export interface SpawnEnd {
  status?: number;
  forkFailed?: boolean;
}

interface Pending {
  resolve(r: SpawnEnd): void;
  forked?(pid: number): void;
  /** A launched process that runs: it does not hold the event loop. */
  running?: boolean;
}

/** What `run` resolves to: the same contract as lib/exec.ts's run (stdout, or a CommandError). */
export type Runner = (
  tool: string,
  args: string[],
  opts?: Pick<RunOptions, 'okCodes' | 'okIfAbsent' | 'timeoutMs'>,
) => Promise<string>;

export class Spawner {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffered = '';

  /** @param dir a folder of the caller's own for the children's output files (made here). */
  constructor(private readonly dir: string) {}

  /** Pure: a request line (argv hex-encoded: any byte but NUL passes, spaces and newlines included). */
  static requestLine(id: number, argv: string[]): string {
    return `R ${id} ${argv.map((a) => Buffer.from(a).toString('hex')).join(' ')}\n`;
  }

  /** Pure: a reply line → the request's id and how its child ended; undefined for anything else. */
  static parseReply(
    line: string,
  ): { id: number; status?: number; forkFailed?: boolean; pid?: number } | undefined {
    const m = /^(\d+) (\d+|F|P (\d+))$/.exec(line);
    if (!m) return undefined;
    if (m[3] !== undefined) return { id: Number(m[1]), pid: Number(m[3]) };
    return m[2] === 'F' ? { id: Number(m[1]), forkFailed: true } : { id: Number(m[1]), status: Number(m[2]) };
  }

  private helper(): ChildProcess {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    const child = spawn(findTool('perl'), ['-e', HELPER, this.dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin!.on('error', () => undefined); // its end is handled below
    child.stdout!.setEncoding('utf8').on('data', (d: string) => this.onData(d));
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
      // What it ran may still run; its end cannot be known any more.
      for (const p of this.pending.values()) p.resolve({});
      this.pending.clear();
    });
    child.on('error', () => undefined); // a spawn error ends in 'exit'/'close' too
    this.child = child;
    this.hold(false);
    return child;
  }

  /** The helper holds the event loop only while a request waits for it. */
  private hold(busy: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const s of [c.stdout as Socket | null, c.stdin as Socket | null]) {
      if (busy) s?.ref();
      else s?.unref();
    }
    if (busy) c.ref();
    else c.unref();
  }

  private onData(text: string): void {
    this.buffered += text;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const reply = Spawner.parseReply(this.buffered.slice(0, nl));
      this.buffered = this.buffered.slice(nl + 1);
      if (!reply) continue;
      const p = this.pending.get(reply.id);
      if (reply.pid !== undefined) {
        p?.forked?.(reply.pid);
        continue;
      }
      this.pending.delete(reply.id);
      p?.resolve(reply);
    }
    this.releaseIfIdle();
  }

  /** The helper holds the event loop while a run or a launch's fork is awaited, not for launched processes. */
  private releaseIfIdle(): void {
    for (const p of this.pending.values()) if (!p.running) return;
    this.hold(false);
  }

  /** Runs `tool` (by name, found on PATH) to its end: stdout, or a CommandError as lib/exec.ts's run. */
  readonly run: Runner = async (tool, args, opts = {}) => {
    const argv = [findTool(tool), ...args];
    if (argv.some((a) => a.includes('\0'))) throw new Error(`${tool}: arguments cannot contain NUL bytes`);
    const id = this.nextId++;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 }); // (removed with its owner's root meanwhile)
    const child = this.helper();
    const timeoutMs = opts.timeoutMs ?? TOOL_TIMEOUT_MS;
    let timedOut = false;
    const ended = await new Promise<{ status?: number; forkFailed?: boolean }>((resolve) => {
      const timer = setTimeout(() => {
        timedOut = true;
        child.stdin!.write(`K ${id}\n`);
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      this.hold(true);
      child.stdin!.write(Spawner.requestLine(id, argv));
    });
    const out = join(this.dir, `${id}.o`);
    const errFile = join(this.dir, `${id}.e`);
    const read = (f: string) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    };
    const stdout = read(out);
    let stderr = read(errFile);
    rmSync(out, { force: true });
    rmSync(errFile, { force: true });
    const shown = [tool, ...args].join(' ');
    let code: number | undefined;
    let why: string | undefined;
    if (ended.forkFailed) why = 'the spawner could not fork';
    else if (ended.status === undefined) why = 'the spawner exited before the command ended';
    else if ((ended.status & 0x7f) !== 0) why = `killed by signal ${ended.status & 0x7f}`;
    else code = ended.status >> 8;
    if (timedOut) why = `timed out after ${timeoutMs} ms`;
    if (why) stderr = `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}${why}`;
    if (!timedOut && code !== undefined && (code === 0 || opts.okCodes?.includes(code))) return stdout;
    const err = new CommandError(shown, timedOut ? undefined : code, stderr);
    if (opts.okIfAbsent && code !== undefined && isAbsentError(err)) return stdout;
    throw err;
  };

  /**
   * Starts a process that outlives the call (a task's launcher): in a session of its own, cwd /,
   * stdin /dev/null, stdout and stderr appended to `logFile` (which must exist), only `path` and
   * LC_ALL=C in its environment. Resolves with its pid once forked; `ended` resolves when it exits,
   * or with neither field when the spawner went away first (then only its pid can tell).
   */
  launch(
    argv: string[],
    opts: { logFile: string; path: string },
  ): Promise<{ pid: number; ended: Promise<SpawnEnd> }> {
    const fields = [opts.logFile, opts.path, ...argv];
    if (argv.length === 0 || fields.some((a) => a.includes('\0')))
      return Promise.reject(new Error('launch: no command, or an argument with a NUL byte'));
    const id = this.nextId++;
    const child = this.helper();
    return new Promise((resolve, reject) => {
      let settled = false;
      const ended = new Promise<SpawnEnd>((resolveEnd) => {
        const entry: Pending = {
          forked: (pid) => {
            settled = true;
            entry.running = true;
            resolve({ pid, ended });
            this.releaseIfIdle();
          },
          resolve: (end) => {
            resolveEnd(end);
            if (!settled) {
              settled = true;
              reject(new Error(end.forkFailed ? 'the spawner could not fork' : 'the spawner exited'));
            }
          },
        };
        this.pending.set(id, entry);
      });
      this.hold(true);
      child.stdin!.write(`D ${id} ${fields.map((a) => Buffer.from(a).toString('hex')).join(' ')}\n`);
    });
  }

  /**
   * Ends the helper and waits until it has exited (what it started runs on; the next request starts
   * another). A process that used a runtime for a while and goes on living (`lab down` in a test,
   * `leave`) would otherwise keep it until its own exit, naming the runtime's folder.
   */
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
