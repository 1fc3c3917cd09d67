#!/usr/bin/perl
# oci-shim.pl STATE_DIR N CREATE_ARGV(N words) START_ARGV...
# A container's supervisor, as containerd's shim is one: it makes itself a child subreaper, runs the
# OCI runtime's `create` with the container's stdout and stderr (fds 4 and 5, the log writers'
# pipes), and so becomes the parent of the container's init once `create` exits. It runs `start`,
# reports the init's pid in STATE_DIR/created, then waits: when the init ends, its status goes to
# STATE_DIR/exit (128+N for signal N, as a shell reports it) and the shim exits. Starting here rather
# than from the daemon spares the daemon a process spawn per task. It needs nothing from the daemon,
# so a container's exit is recorded while no daemon runs. Perl because it is in every Debian system
# (perl-base is essential) and can make the prctl call a shell cannot; it costs ~2 MB.
use strict;
use warnings;

# Signals the supervisor ignores (oci-start.sh ignored them first, for itself and the writers): a
# stray one would end it before it records anything. Its children get the defaults back, so the OCI
# runtime and the container's processes see every signal as usual.
my @IGNORED = qw(HUP INT QUIT TERM PIPE);
$SIG{$_} = 'IGNORE' for @IGNORED;

my ($state, $n, @rest) = @ARGV;
my @create = @rest[0 .. $n - 1];
my @start = @rest[$n .. $#rest];
my $PR_SET_CHILD_SUBREAPER = 36;
# prctl's syscall number per machine (perl-base has no syscall.ph to look it up).
my %PRCTL = (x86_64 => 157, aarch64 => 167, riscv64 => 167, ppc64le => 171, ppc64 => 171, s390x => 172);

# Written whole or not at all: the daemon may read any moment.
sub record {
    my ($name, $text) = @_;
    open(my $fh, '>', "$state/$name.tmp") or die "swarmlite: cannot write $state/$name: $!\n";
    print $fh $text;
    close($fh) or die "swarmlite: cannot write $state/$name: $!\n";
    rename("$state/$name.tmp", "$state/$name") or die "swarmlite: cannot write $state/$name: $!\n";
}

# Closes inherited descriptors by number (a handle made on an fd closes it).
sub closefd {
    for my $fd (@_) {
        my $fh;
        open($fh, ">&=", $fd) and close($fh);
    }
}

# A wait status as words: how the OCI runtime ended.
sub how {
    my ($status) = @_;
    return $status & 127 ? 'killed by signal ' . ($status & 127) : 'exit ' . ($status >> 8);
}

sub fail {
    print STDERR "swarmlite: @_\n";
    record('exit', "125\n");
    exit 125;
}

# (The POSIX module would say the same through uname, but loading it costs ~10 ms of CPU a task.)
open(my $archfh, '<', '/proc/sys/kernel/arch') or fail("cannot read the machine's architecture: $!");
my $arch = <$archfh> // '';
close($archfh);
chomp($arch);
my $nr = $PRCTL{$arch} // fail("no prctl syscall number known for '$arch'");
syscall($nr, $PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 or fail("cannot become a child subreaper: $!");

my $runtime = fork() // fail("fork: $!");
if ($runtime == 0) {
    $SIG{$_} = 'DEFAULT' for @IGNORED;
    # The runtime passes its stdio to the container's init: the log pipes, never the daemon's.
    open(STDIN, '<', '/dev/null') and open(STDOUT, '>&4') and open(STDERR, '>&5') or exit 125;
    closefd(4, 5);
    { no warnings 'exec'; exec { $create[0] } @create; }
    print STDERR "swarmlite: cannot run $create[0]: $!\n";
    exit 127;
}
# Only the container may hold the log pipes: the writers end when its last process is gone.
closefd(4, 5);

waitpid($runtime, 0);
my $created = $?;
$created == 0 or fail('the OCI runtime could not create the container (' . how($created) . ')');
open(my $pidfh, '<', "$state/container.pid") or fail("no container pid: $!");
my $pid = <$pidfh> // '';
close($pidfh);
$pid =~ /^(\d+)$/ or fail("bad container pid '$pid'");
$pid = $1;

my $started = fork() // fail("fork: $!");
if ($started == 0) {
    $SIG{$_} = 'DEFAULT' for @IGNORED;
    open(STDIN, '<', '/dev/null');
    { no warnings 'exec'; exec { $start[0] } @start; }
    exit 127;
}
waitpid($started, 0);
my $startStatus = $?;
if ($startStatus != 0) {
    # Never started: the init still waits for the start; it is our child, end it and say why.
    kill('KILL', $pid);
    waitpid($pid, 0);
    fail('the OCI runtime could not start the container (' . how($startStatus) . ')');
}
# `start` returns once the init was told to go, not once it runs the container's program: until its
# exec, the init is runc's own (Go) process, which a SIGTERM would end with its own status. Report
# the container as running once the program replaced it (or the init is already gone).
for (my $i = 0; $i < 10000; $i++) {
    open(my $cmdfh, '<', "/proc/$pid/cmdline") or last;
    my $cmdline = do { local $/; <$cmdfh> } // '';
    close($cmdfh);
    last unless $cmdline =~ /\A[^\0]*runc\0init\0\z/;
    select(undef, undef, undef, 0.001);
}
record('created', "$pid\n");

# Orphans of the container are reaped too (we are their subreaper); only the init's status counts.
for (;;) {
    my $reaped = waitpid(-1, 0);
    if ($reaped == $pid) {
        my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
        record('exit', "$status\n");
        exit 0;
    }
    # No child left without the init's status: it was reaped elsewhere (cannot happen to a
    # subreaper's child); leave no status, which reads as killed.
    exit 1 if $reaped < 0;
}
