// swarmlite's default seccomp profile: an allowlist (every syscall not named here fails with EPERM),
// written from the kernel's syscall table minus what Docker documents as blocked for containers:
// kernel modules, kexec, reboot, swap, clock and time setting, mounting and namespace changes,
// keyrings, BPF and perf, NUMA memory policy, raw I/O ports, accounting, quotas, handle-based opens,
// userfaultfd, obsolete and unimplemented calls. Some of those come back with the capability that
// makes them meaningful (`--cap-add SYS_ADMIN` allows mount, unshare, setns...), as in Docker.
// Pure data and one pure function; runc turns it into the BPF filter.

/** Names separated by blanks and newlines; `#` starts a comment to the end of its line. */
function words(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(' ')
    .split(/\s+/)
    .filter(Boolean);
}

/** Allowed for every container. */
const BASE_ALLOWED = words(`
  # files and descriptors
  access chdir chmod chown close close_range copy_file_range creat dup dup2
  dup3 faccessat faccessat2 fadvise64 fadvise64_64 fallocate fchdir fchmod
  fchmodat fchmodat2 fchown fchownat fcntl fcntl64 fdatasync flock fstat fstat64
  fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futimesat getcwd
  getdents getdents64 lchown link linkat lseek _llseek lstat lstat64 mkdir
  mkdirat mknod mknodat newfstatat open openat openat2 pread64 preadv preadv2
  pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv rename
  renameat renameat2 rmdir sendfile sendfile64 splice stat stat64 statfs
  statfs64 statx symlink symlinkat sync sync_file_range sync_file_range2 syncfs tee
  truncate truncate64 umask unlink unlinkat utime utimensat utimensat_time64
  utimes vmsplice write writev ioctl
  # extended attributes
  fgetxattr flistxattr fremovexattr fsetxattr getxattr lgetxattr listxattr llistxattr
  lremovexattr lsetxattr removexattr setxattr
  # waiting on descriptors, events, asynchronous I/O
  epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
  epoll_wait_old eventfd eventfd2 fanotify_mark inotify_add_watch inotify_init
  inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents
  io_pgetevents_time64 io_setup io_submit io_uring_enter io_uring_register io_uring_setup
  pipe pipe2 poll ppoll ppoll_time64 pselect6 pselect6_time64 select _newselect
  signalfd signalfd4 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
  timerfd_settime64
  # memory
  brk madvise membarrier memfd_create mincore mlock mlock2 mlockall mmap mmap2
  mprotect mremap msync munlock munlockall munmap pkey_alloc pkey_free
  pkey_mprotect remap_file_pages process_mrelease
  # processes, threads, signals
  arch_prctl capget capset execve execveat exit exit_group fork futex
  futex_time64 futex_waitv get_robust_list get_thread_area getcpu getegid geteuid
  getgid getgroups getpgid getpgrp getpid getppid getpriority getresgid getresuid
  getrlimit getrusage getsid gettid getuid ioprio_get ioprio_set kill pause
  pidfd_open pidfd_send_signal prctl prlimit64 restart_syscall rseq rt_sigaction
  rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
  rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min
  sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
  sched_setscheduler sched_yield seccomp set_robust_list set_thread_area set_tid_address
  setfsgid setfsuid setgid setgroups setpgid setpriority setregid setresgid
  setresuid setreuid setrlimit setsid setuid sigaltstack tgkill tkill vfork
  wait4 waitid modify_ldt landlock_add_rule landlock_create_ruleset landlock_restrict_self
  # Tracing one's own processes: Docker allows these since kernel 4.8 closed the seccomp bypass.
  ptrace process_vm_readv process_vm_writev kcmp process_madvise
  # time (reading it; setting it needs SYS_TIME)
  adjtimex alarm clock_getres clock_getres_time64 clock_gettime clock_gettime64
  clock_nanosleep clock_nanosleep_time64 getitimer gettimeofday nanosleep setitimer time
  timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
  timer_settime64 times
  # System V and POSIX IPC (the container has its own IPC namespace)
  mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
  mq_timedsend_time64 mq_unlink msgctl msgget msgrcv msgsnd semctl semget semop
  semtimedop semtimedop_time64 shmat shmctl shmdt shmget
  # sockets (socket itself is below: AF_VSOCK is refused)
  accept accept4 bind connect getpeername getsockname getsockopt listen recv
  recvfrom recvmmsg recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto
  setsockopt shutdown socketpair socketcall
  # the system (its own UTS namespace makes these private)
  getrandom sethostname setdomainname sysinfo uname
`);

/** Syscalls a capability brings back (Docker's pairing); the rest of the blocked list stays blocked. */
const CAPABILITY_SYSCALLS: Readonly<Record<string, string[]>> = {
  CAP_SYS_ADMIN: words(
    'bpf fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount name_to_handle_at open_tree perf_event_open quotactl quotactl_fd setns syslog umount umount2 unshare clone3',
  ),
  CAP_SYS_BOOT: words('reboot'),
  CAP_SYS_CHROOT: words('chroot'),
  CAP_SYS_MODULE: words('delete_module init_module finit_module'),
  CAP_SYS_PACCT: words('acct'),
  CAP_SYS_PTRACE: words('pidfd_getfd'),
  CAP_SYS_RAWIO: words('iopl ioperm'),
  CAP_SYS_TIME: words('settimeofday stime clock_settime clock_settime64 clock_adjtime clock_adjtime64'),
  CAP_SYS_TTY_CONFIG: words('vhangup'),
  CAP_SYS_NICE: words('get_mempolicy mbind set_mempolicy set_mempolicy_home_node migrate_pages move_pages'),
  CAP_SYSLOG: words('syslog'),
  CAP_DAC_READ_SEARCH: words('open_by_handle_at'),
  CAP_BPF: words('bpf'),
  CAP_PERFMON: words('perf_event_open'),
};

/** Never allowed, whatever the capabilities: listed so tests can prove they stay out. */
export const ALWAYS_BLOCKED = words(`
  kexec_load kexec_file_load swapon swapoff add_key request_key keyctl userfaultfd
  uselib ustat sysfs _sysctl create_module get_kernel_syms query_module nfsservctl
  pivot_root vm86 vm86old afs_syscall tuxcall security getpmsg putpmsg vserver
`);

/** clone's namespace flags: NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** personality(2) values that change nothing dangerous: PER_LINUX, PER_LINUX32, UNAME26 and query. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];
const AF_VSOCK = 40;
const ENOSYS = 38;
const EPERM = 1;

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_MASKED_EQ';
}

export interface SeccompRule {
  names: string[];
  action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SeccompProfile {
  defaultAction: 'SCMP_ACT_ERRNO';
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: SeccompRule[];
}

/** The seccomp architectures of a Node.js `process.arch`, native first, then its 32-bit companions. */
function seccompArchitectures(arch: string): string[] {
  switch (arch) {
    case 'x64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
    case 'arm64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    case 'ppc64':
      return ['SCMP_ARCH_PPC64LE'];
    case 's390x':
      return ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'];
    case 'riscv64':
      return ['SCMP_ARCH_RISCV64'];
    default:
      throw new Error(`no seccomp profile for architecture ${arch}`);
  }
}

/**
 * The profile for a container with these effective capabilities (CAP_ names). Rules that test an
 * argument index the first argument, which holds for every architecture above except s390's clone.
 */
export function defaultSeccompProfile(capabilities: readonly string[], arch: string): SeccompProfile {
  const caps = new Set(capabilities);
  const allowed = new Set(BASE_ALLOWED);
  for (const [cap, names] of Object.entries(CAPABILITY_SYSCALLS))
    if (caps.has(cap)) for (const n of names) allowed.add(n);
  const syscalls: SeccompRule[] = [{ names: [...allowed].sort(), action: 'SCMP_ACT_ALLOW' }];
  // One rule per value: the rules of one syscall are ORed, the arguments within a rule ANDed.
  for (const value of PERSONALITIES)
    syscalls.push({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
    });
  syscalls.push({
    names: ['socket'],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }],
  });
  if (caps.has('CAP_SYS_ADMIN')) {
    syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW' });
  } else {
    // A new namespace needs SYS_ADMIN: clone without its flags only. clone3 hides its flags in a
    // struct seccomp cannot read, so it reports ENOSYS and libc falls back to clone.
    syscalls.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: seccompArchitectures(arch),
    syscalls,
  };
}
