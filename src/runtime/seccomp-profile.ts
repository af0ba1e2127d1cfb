import { release } from 'node:os';

/**
 * strata's default seccomp profile, as data. It has the semantics of Docker's and BuildKit's
 * default profile (moby/profiles `seccomp/default.json`, which BuildKit applies to every RUN
 * through containerd's `seccomp.DefaultProfile`): every syscall fails with EPERM unless a rule
 * allows it; the rules allow what ordinary programs (apt, dpkg, npm, go, pip, gcc) call and keep
 * from the process what would let it leave its namespaces or reach the kernel's global state —
 * `unshare`, `setns`, `mount`, namespace flags of `clone`, `bpf`, `keyctl`, `add_key`, kernel
 * modules, `kexec_*`, `ptrace` of other processes on old kernels, `personality` beyond the usual
 * values, `socket(AF_VSOCK)` and the other rare address families, `userfaultfd`, and clock and
 * time setting — unless the process holds the capability that makes the syscall legitimate
 * (`includes.caps`). Written from the JSON's rules (not copied from a package), so the behaviour
 * does not depend on containers-common's `/usr/share/containers/seccomp.json` being installed.
 */
export interface SeccompRule {
  /** Syscall names; one the runtime's libseccomp does not know is skipped by the runtime. */
  readonly names: readonly string[];
  readonly action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  readonly errnoRet?: number;
  readonly args?: readonly SeccompArg[];
  /** The rule applies only when all of these hold (moby's `includes`). */
  readonly includes?: SeccompCondition;
  /** The rule does not apply when any of these holds (moby's `excludes`). */
  readonly excludes?: SeccompCondition;
}

/** A condition on a syscall argument (config-linux.md#seccomp, `args`). */
export interface SeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: 'SCMP_CMP_EQ' | 'SCMP_CMP_LT' | 'SCMP_CMP_MASKED_EQ';
}

/** When a rule applies: capabilities the process holds, the host architecture (Go's names), a minimum kernel. */
export interface SeccompCondition {
  readonly caps?: readonly string[];
  readonly arches?: readonly string[];
  readonly minKernel?: string;
}

/** The `linux.seccomp` section of an OCI runtime spec (config-linux.md#seccomp). */
export interface OciSeccomp {
  readonly defaultAction: 'SCMP_ACT_ERRNO';
  readonly defaultErrnoRet: number;
  readonly architectures: readonly string[];
  readonly syscalls: readonly {
    readonly names: readonly string[];
    readonly action: SeccompRule['action'];
    readonly errnoRet?: number;
    readonly args?: readonly SeccompArg[];
  }[];
}

const EPERM = 1;
const ENOSYS = 38;

/** `CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET`. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

const names = (list: string): string[] => list.trim().split(/\s+/);

/**
 * Syscalls every process may make (moby's first, unconditional rule). Absent on purpose, as in
 * moby: acct, add_key, bpf, clock_settime, clone3 (ENOSYS, so glibc falls back to clone), create_module,
 * delete_module, finit_module, get_kernel_syms, init_module, ioperm, iopl, kcmp, kexec_*, keyctl,
 * lookup_dcookie, mount, move_pages, nfsservctl, open_by_handle_at, perf_event_open, pivot_root,
 * process_vm_*, ptrace (below: on kernels ≥ 4.8), query_module, quotactl, reboot, request_key,
 * set_mempolicy, setns, settimeofday, stime, swapon, swapoff, sysfs, _sysctl, umount, umount2,
 * unshare, uselib, userfaultfd, ustat, vm86, vm86old.
 */
const ALLOWED = names(`
  accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
  clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
  clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
  dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
  epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
  fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat
  fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64
  fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64
  futex_wait futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32
  geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
  getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
  get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday
  getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init inotify_init1
  inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64
  ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset
  landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount listxattr
  listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
  map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock
  mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
  mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget
  msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect
  open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
  pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease
  pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
  recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename
  renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending
  rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
  rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
  sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
  sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile
  sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
  setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32
  setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt
  set_thread_area set_tid_address setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget
  shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat
  stat64 statfs statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee
  tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
  timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
  timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
  uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write
  writev
`);

/**
 * Address families `socket` may open: below AF_DECnet (12), then a list that leaves out, among
 * others, AF_VSOCK (40), AF_DECnet, AF_ECONET, AF_WANPIPE, AF_IRDA and AF_ATMSVC, as moby does.
 */
const SOCKET_FAMILIES = [
  13, 14, 15, 16, 17, 18, 21, 22, 24, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 39, 41, 42, 43, 44, 45,
];

/**
 * `personality` values glibc, setarch and `linux32` use: PER_LINUX, PER_LINUX32, UNAME26,
 * UNAME26|PER_LINUX32, and 0xffffffff (the query). ADDR_NO_RANDOMIZE and the like stay blocked.
 */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** The rules, in moby's order. */
export const DEFAULT_SECCOMP_RULES: readonly SeccompRule[] = [
  { names: ALLOWED, action: 'SCMP_ACT_ALLOW' },
  {
    names: ['process_vm_readv', 'process_vm_writev', 'ptrace'],
    action: 'SCMP_ACT_ALLOW',
    includes: { minKernel: '4.8' }, // before 4.8, ptrace could bypass seccomp
  },
  { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 12, op: 'SCMP_CMP_LT' }] },
  ...SOCKET_FAMILIES.map(
    (family): SeccompRule => ({
      names: ['socket'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: family, op: 'SCMP_CMP_EQ' }],
    }),
  ),
  ...PERSONALITIES.map(
    (value): SeccompRule => ({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
    }),
  ),
  { names: ['sync_file_range2', 'swapcontext'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['ppc64le'] } },
  {
    names: names('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'),
    action: 'SCMP_ACT_ALLOW',
    includes: { arches: ['arm', 'arm64'] },
  },
  { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
  { names: ['modify_ldt'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32', 'x86'] } },
  {
    names: names('s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'),
    action: 'SCMP_ACT_ALLOW',
    includes: { arches: ['s390', 's390x'] },
  },
  { names: ['riscv_flush_icache'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['riscv64'] } },
  { names: ['open_by_handle_at'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_DAC_READ_SEARCH'] } },
  {
    names: names(`
      bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie
      lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree
      perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2
      unshare`),
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_ADMIN'] },
  },
  {
    // clone without namespace flags: fork and threads, never a new user (or other) namespace.
    names: ['clone'],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] },
  },
  {
    // s390 passes clone's flags second.
    names: ['clone'],
    action: 'SCMP_ACT_ALLOW',
    args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    includes: { arches: ['s390', 's390x'] },
    excludes: { caps: ['CAP_SYS_ADMIN'] },
  },
  {
    // clone3's flags are behind a pointer seccomp cannot read: ENOSYS makes glibc use clone.
    names: ['clone3'],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: ENOSYS,
    excludes: { caps: ['CAP_SYS_ADMIN'] },
  },
  { names: ['reboot'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_BOOT'] } },
  { names: ['chroot'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_CHROOT'] } },
  {
    names: ['delete_module', 'init_module', 'finit_module'],
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_MODULE'] },
  },
  { names: ['acct'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_PACCT'] } },
  {
    names: names('kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'),
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_PTRACE'] },
  },
  { names: ['iopl', 'ioperm'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_RAWIO'] } },
  {
    names: names('settimeofday stime clock_settime clock_settime64'),
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_TIME'] },
  },
  { names: ['vhangup'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_TTY_CONFIG'] } },
  {
    names: names('get_mempolicy mbind set_mempolicy set_mempolicy_home_node'),
    action: 'SCMP_ACT_ALLOW',
    includes: { caps: ['CAP_SYS_NICE'] },
  },
  { names: ['syslog'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYSLOG'] } },
  { names: ['bpf'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_BPF'] } },
  { names: ['perf_event_open'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_PERFMON'] } },
];

/**
 * The seccomp architectures for a Node `process.arch`, and the Go name moby's `arches`
 * conditions use (moby's `archMap`: a native architecture and the ones its kernel also runs).
 */
const ARCHES: Readonly<Record<string, { readonly go: string; readonly scmp: readonly string[] }>> = {
  x64: { go: 'amd64', scmp: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
  arm64: { go: 'arm64', scmp: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'] },
  s390x: { go: 's390x', scmp: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'] },
  riscv64: { go: 'riscv64', scmp: ['SCMP_ARCH_RISCV64'] },
  loong64: { go: 'loong64', scmp: ['SCMP_ARCH_LOONGARCH64'] },
  ppc64: { go: 'ppc64le', scmp: ['SCMP_ARCH_PPC64LE'] },
};

/** What decides which of {@link DEFAULT_SECCOMP_RULES} apply. */
export interface SeccompOptions {
  /** The capabilities the process holds (its bounding set). */
  readonly capabilities: readonly string[];
  /** Node's `process.arch`; defaults to the running one. */
  readonly arch?: string;
  /** `uname -r`; defaults to the running kernel's. */
  readonly kernel?: string;
}

/**
 * The OCI `linux.seccomp` section for a process: {@link DEFAULT_SECCOMP_RULES} with their
 * `includes`/`excludes` resolved against its capabilities, architecture and kernel, as moby's
 * `setupSeccomp` does. On an architecture moby's map lacks, `architectures` is empty and the
 * runtime filters the native one only.
 */
export function defaultSeccomp(options: SeccompOptions): OciSeccomp {
  const arch = ARCHES[options.arch ?? process.arch];
  const kernel = options.kernel ?? release();
  const caps = new Set(options.capabilities);
  const holds = (condition: SeccompCondition | undefined, empty: boolean): boolean => {
    if (condition === undefined) return empty;
    const checks: boolean[] = [];
    if (condition.caps) checks.push(condition.caps.every((c) => caps.has(c)));
    if (condition.arches) checks.push(arch !== undefined && condition.arches.includes(arch.go));
    if (condition.minKernel) checks.push(kernelAtLeast(kernel, condition.minKernel));
    return checks.length === 0 ? empty : checks.every(Boolean);
  };
  // moby: a rule is skipped when any `excludes` entry matches and unless every `includes` entry does.
  const anyExcluded = (condition: SeccompCondition | undefined): boolean =>
    condition !== undefined &&
    ((condition.caps ?? []).some((c) => caps.has(c)) ||
      (arch !== undefined && (condition.arches ?? []).includes(arch.go)));
  const syscalls = DEFAULT_SECCOMP_RULES.filter(
    (rule) => holds(rule.includes, true) && !anyExcluded(rule.excludes),
  ).map((rule) => ({
    names: rule.names,
    action: rule.action,
    ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
    ...(rule.args ? { args: rule.args.map((a) => ({ valueTwo: 0, ...a })) } : {}),
  }));
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: arch?.scmp ?? [],
    syscalls,
  };
}

/** Whether `uname -r` (e.g. `6.1.0-18-amd64`) is at least `major.minor`. */
function kernelAtLeast(kernel: string, minimum: string): boolean {
  const [major = 0, minor = 0] = kernel.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const [wantMajor = 0, wantMinor = 0] = minimum.split('.').map((p) => Number.parseInt(p, 10));
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}
