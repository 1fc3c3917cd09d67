// Running short tools from a small process instead of the daemon itself. Linux has the daemon fork
// before each exec, and a fork copies the caller's page tables: from a Node daemon of 100-160 MB a
// spawn of `true` cost ~7 ms of the daemon's CPU and ~8 ms more in the child, against ~2 ms at
// 47 MB (measured on this machine, 2026-12-07). A task's prepare, start and removal run several
// tools (mount, ip, runc delete, umount), so the runtime hands them to one perl process (perl-base
// is Essential on Debian; ~5 MB) that forks them: Python's forkserver, for the same reason.
//
// Protocol, a line each way. Requests: `R <id> <hex argv...>` (run) and `K <id>` (SIGTERM it, a
// timeout). Replies: `<id> <wait status>` when it ended, `<id> F` when the fork failed. The child's
// stdout and stderr go to `<dir>/<id>.o` and `<id>.e` (read, then removed). The helper exits when
// its stdin closes (the daemon is gone); what it started runs on.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { CommandError, findTool, isAbsentError, type RunOptions } from './exec.js';

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

interface Pending {
  resolve(r: { status?: number; forkFailed?: boolean }): void;
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
  static parseReply(line: string): { id: number; status?: number; forkFailed?: boolean } | undefined {
    const m = /^(\d+) (\d+|F)$/.exec(line);
    if (!m) return undefined;
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
      this.pending.delete(reply.id);
      p?.resolve(reply);
    }
    if (this.pending.size === 0) this.hold(false);
  }

  /** Runs `tool` (by name, found on PATH) to its end: stdout, or a CommandError as lib/exec.ts's run. */
  readonly run: Runner = async (tool, args, opts = {}) => {
    const argv = [findTool(tool), ...args];
    if (argv.some((a) => a.includes('\0'))) throw new Error(`${tool}: arguments cannot contain NUL bytes`);
    const id = this.nextId++;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 }); // (removed with its owner's root meanwhile)
    const child = this.helper();
    const timeoutMs = opts.timeoutMs ?? 30_000;
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

  /** Ends the helper (what it started runs on). */
  close(): void {
    this.child?.stdin?.end();
  }
}
