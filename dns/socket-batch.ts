// Opening 127.0.0.11:53 in many task namespaces with one helper run instead of one per task.
//
// A Node process costs ~65 ms of CPU to start here, and binding needs a process in the task's
// namespace: 100 tasks starting at once spent ~6 s of CPU on their helpers alone. So the binding is
// done by perl (perl-base is Essential on Debian; ~7 ms to start), which enters each namespace in
// turn with setns(2), binds the UDP socket and TCP listener there (the namespace of a socket is
// fixed when it is made), checks that a datagram sent there arrives, returns to its own namespace
// and execs the Node helper (socket-helper.ts --adopt). That helper inherits every socket and hands
// them to the daemon over the IPC channel. Requests that arrive while a run is in flight go in the
// next run, as entries wait for the next fsync in a group commit.
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server } from 'node:net';
import { findTool } from '../lib/exec.js';
import { helperError, superviseHelper, type TaskSockets } from './helper-process.js';

/** setns(2) by architecture: perl's syscall() takes the number, and h2ph headers are rarely there. */
const SETNS_SYSCALL: Partial<Record<NodeJS.Architecture, number>> = { x64: 308, arm64: 268 };

/** At most this many namespaces per run: a bad one costs its probe's wait, and the others wait too. */
const MAX_BATCH = 64;
const PROBE_WAIT_S = 0.5;
/** A run starts this long after the first request that finds none in flight. */
const GATHER_MS = 10;

// argv: setns-number address port node helper path...   Output (env for the helper), a line each:
// "<i> ok <udp fd> <tcp fd>" or "<i> error <text>". $^F is raised after the namespace handle of
// home is opened, so the sockets survive the exec and nothing else does (each namespace's handle is
// closed once entered; a failed entry's sockets are closed).
const BINDER = String.raw`
use strict; use warnings;
use Socket qw(PF_INET SOCK_DGRAM SOCK_STREAM SOL_SOCKET SO_REUSEADDR pack_sockaddr_in inet_aton);
my ($nr, $addr, $port, $node, $helper, @paths) = @ARGV;
open(my $home, '<', '/proc/self/ns/net') or die "cannot open /proc/self/ns/net: $!\n";
sub enter { syscall($nr, fileno($_[0]), 0x40000000) == 0 }
my $to = pack_sockaddr_in($port, inet_aton($addr));
sub probe {
  my ($u) = @_;
  socket(my $s, PF_INET, SOCK_DGRAM, 0) or return "$!";
  my $nonce = join('', map { chr(int(rand(256))) } 1 .. 12);
  defined(send($s, $nonce, 0, $to)) or return "$!";
  for (1 .. 4) {
    my $rin = ''; vec($rin, fileno($u), 1) = 1;
    select(my $rout = $rin, undef, undef, ${PROBE_WAIT_S} / 4) > 0 or next;
    recv($u, my $got, 64, 0);
    return undef if defined $got && $got eq $nonce;
  }
  return 'nothing sent to it arrives';
}
sub bind_here {
  socket(my $u, PF_INET, SOCK_DGRAM, 0) or return "error cannot make a udp socket: $!";
  unless (bind($u, $to)) {
    my $hint = $!{EADDRNOTAVAIL} ? ' (is lo up in this namespace?)' : '';
    return "error cannot bind udp: $!$hint";
  }
  my $bad = probe($u);
  return "error nothing reaches it ($bad): is lo up? (ip link set lo up)" if defined $bad;
  socket(my $t, PF_INET, SOCK_STREAM, 0) or return "error cannot make a tcp socket: $!";
  setsockopt($t, SOL_SOCKET, SO_REUSEADDR, 1);
  bind($t, $to) or return "error cannot bind tcp: $!";
  listen($t, 128) or return "error cannot listen on tcp: $!";
  our @keep; push @keep, $u, $t;
  return 'ok ' . fileno($u) . ' ' . fileno($t);
}
$^F = 0x7fffffff;
my @lines;
for my $i (0 .. $#paths) {
  my $ns;
  unless (open($ns, '<', $paths[$i])) { push @lines, "$i error cannot open the namespace: $!"; next; }
  unless (enter($ns)) { push @lines, "$i error cannot enter the namespace: $!"; close $ns; next; }
  close $ns;
  push @lines, "$i " . bind_here();
}
enter($home) or die "cannot return to the daemon's network namespace: $!\n";
$ENV{SWARMLITE_DNS_SOCKETS} = join("\n", @lines);
exec { $node } $node, $helper, '--adopt' or die "cannot start $node: $!\n";
`;

interface Waiting {
  netnsPath: string;
  resolve: (s: TaskSockets) => void;
  reject: (err: Error) => void;
  udp?: UdpSocket;
  tcp?: Server;
  done?: boolean;
}

/** One queue per address:port; a run takes what has queued, the next starts when it ends. */
export class SocketBatcher {
  private queue: Waiting[] = [];
  private running = false;
  private gathering = false;
  /** Helper runs so far (each one perl + one Node start). */
  runs = 0;

  constructor(
    private readonly helper: string,
    private readonly address: string,
    private readonly port: number,
    private readonly timeoutMs: number,
    private readonly maxBatch = MAX_BATCH,
  ) {}

  /** Whether this machine can run the batch binder (perl and a known setns number). */
  static available(): boolean {
    if (SETNS_SYSCALL[process.arch] === undefined) return false;
    try {
      findTool('perl');
      return true;
    } catch {
      return false;
    }
  }

  open(netnsPath: string): Promise<TaskSockets> {
    return new Promise((resolve, reject) => {
      this.queue.push({ netnsPath, resolve, reject });
      if (!this.running && !this.gathering) {
        // Tasks assigned together reach here within a few ms of each other: wait that long for them.
        this.gathering = true;
        setTimeout(() => ((this.gathering = false), this.next()), GATHER_MS);
      }
    });
  }

  private next(): void {
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.running = true;
    this.runs++;
    this.run(batch).finally(() => {
      this.running = false;
      this.next();
    });
  }

  private run(batch: Waiting[]): Promise<void> {
    const where = (w: Waiting) => `${this.address}:${this.port} in ${w.netnsPath}`;
    const fail = (w: Waiting, err: Error) => {
      if (w.done) return;
      w.done = true;
      w.udp?.close();
      w.tcp?.close();
      w.reject(err);
    };
    return new Promise((settled) => {
      superviseHelper({
        file: findTool('perl'),
        args: [
          '-e',
          BINDER,
          String(SETNS_SYSCALL[process.arch]),
          this.address,
          String(this.port),
          process.execPath,
          this.helper,
          ...batch.map((w) => w.netnsPath),
        ],
        timeoutMs: this.timeoutMs + batch.length * PROBE_WAIT_S * 1000,
        onMessage: (msg, handle) => {
          const m = msg as { i?: unknown; kind?: unknown; error?: unknown };
          const w = typeof m?.i === 'number' ? batch[m.i] : undefined;
          if (!w || w.done) return;
          if (typeof m.error === 'string')
            return fail(w, new Error(`dns: cannot open ${where(w)}: ${m.error}`));
          if (m.kind === 'udp' && handle) w.udp = handle as UdpSocket;
          else if (m.kind === 'tcp' && handle) w.tcp = handle as Server;
          if (w.udp && w.tcp) {
            w.done = true;
            w.resolve({ udp: w.udp, tcp: w.tcp });
          }
        },
        // Whoever it has not served by its end fails with how it ended.
        onEnd: (e) => {
          for (const w of batch) fail(w, helperError(where(w), e));
          settled();
        },
      });
    });
  }
}
