// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* kestrel's runtime sensor: processes, files and connections of watched cgroups, into one ring buffer.
 * Filtering happens here: a process outside the watched cgroups costs a map lookup per event. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by userspace before load. */
const volatile bool watch_all = false;   /* every process (host included) */
const volatile __u32 self_tgid = 0;     /* the agent itself is never watched */
/* Opens are also looked at when they return (the on_*_exit programs are loaded): relative writes wait for it.
 * Off by default, as Config::open_returns; userspace sets it either way. */
const volatile bool open_returns = false;
/* Every open for reading is reported, not only sensitive ones (Config::all_reads): what files each workload
 * reads becomes behaviour the profiles learn. Off by default. */
const volatile bool all_reads = false;

/* Cgroups (v2 ids) whose processes, and whose descendants' processes, are watched. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u8);
} watched SEC(".maps");

/* Cgroups whose threads stream their system-call ids (the sequence models' input). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, __u8);
} stream_cgroups SEC(".maps");

struct syscall_buf {
    __u32 n;
    __u16 ids[SYSCALL_BATCH];
};

/* Per-thread batches (LRU: a thread that never exits cleanly cannot fill the map). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, struct syscall_buf);
} stream_buf SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, DROP_COUNTERS);
    __type(key, __u32);
    __type(value, __u64);
} drops SEC(".maps");

#define MAX_ANCESTOR_LEVEL 12

static __always_inline void count_drop(__u32 cause)
{
    __u64 *n = bpf_map_lookup_elem(&drops, &cause);
    if (n)
        *n += 1;
}

/* Space for one record in the ring buffer, or NULL, counted as a drop, when it is full. */
static __always_inline void *reserve(__u64 size)
{
    void *e = bpf_ringbuf_reserve(&events, size, 0);
    if (!e)
        count_drop(DROP_RINGBUF_FULL);
    return e;
}

/* Whether the current task's cgroup, or one of its ancestors, is in `set` (a cgroup id → u8 hash map). */
static __always_inline bool current_cgroup_in(void *set)
{
    __u64 id = bpf_get_current_cgroup_id();
    if (bpf_map_lookup_elem(set, &id))
        return true;
    for (int level = 1; level <= MAX_ANCESTOR_LEVEL; level++) {
        __u64 a = bpf_get_current_ancestor_cgroup_id(level);
        if (a == 0 || a == id)
            break;
        if (bpf_map_lookup_elem(set, &a))
            return true;
    }
    return false;
}

/* Each cgroup's answer to "is it (or an ancestor) in the set?", so that the ancestor walk runs once per
 * cgroup instead of on every event: per set, an LRU map of verdicts, and in front of it each CPU's last
 * verdict (an array slot the verifier inlines; a CPU mostly runs one cgroup's threads in a row). The sets
 * are filled before the programs are attached; the watched set grows after only by a cgroup made later (a
 * container engine's parent, `Config::watch_when_made`), and then the reader deletes the verdicts on the
 * cgroups made below it and clears each CPU's last verdict. */
#define WATCH_SET 0
#define STREAM_SET 1

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u8);
} watched_verdicts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u8);
} stream_verdicts SEC(".maps");

struct last_verdict {
    __u64 cgroup_id;
    __u64 on;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, struct last_verdict);
} last_verdicts SEC(".maps");

static __always_inline bool cgroup_verdict(void *set, void *verdicts, __u32 which)
{
    /* The cgroup id straight from the task: BTF pointers, no helper call. */
    struct task_struct *task = bpf_get_current_task_btf();
    __u64 cg = task->cgroups->dfl_cgrp->kn->id;
    struct last_verdict *last = bpf_map_lookup_elem(&last_verdicts, &which);
    if (!last)
        return false;
    if (last->cgroup_id != cg) {
        __u8 *known = bpf_map_lookup_elem(verdicts, &cg);
        __u8 on;
        if (known) {
            on = *known;
        } else {
            on = current_cgroup_in(set);
            bpf_map_update_elem(verdicts, &cg, &on, BPF_ANY);
        }
        last->cgroup_id = cg;
        last->on = on;
    }
    return last->on;
}

static __always_inline bool is_watched(void)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (tgid == self_tgid)
        return false;
    if (watch_all)
        return true;
    return cgroup_verdict(&watched, &watched_verdicts, WATCH_SET);
}

/* When to wake the reader. A lone event wakes it at once (low latency at low rates), but each CPU wakes it
 * at most once a millisecond (a flood costs at most a thousand wake-ups a second per CPU, not one per
 * event) or when a batch has piled up. An event that came within the millisecond after a wake-up is read
 * by the reader's short poll that follows every read (5 ms at most): the reader need not wake on a timer
 * while nothing happens — a timer on the workload's CPU 200 times a second cost nginx more than this. */
#define WAKEUP_BYTES (256 << 10)
#define WAKEUP_GAP_NS 1000000ULL

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} last_wakeup SEC(".maps");

static __always_inline void submit(void *e)
{
    __u64 flags = BPF_RB_NO_WAKEUP;
    if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES) {
        flags = BPF_RB_FORCE_WAKEUP;
    } else {
        __u32 zero = 0;
        __u64 *last = bpf_map_lookup_elem(&last_wakeup, &zero);
        __u64 now = bpf_ktime_get_ns();
        if (last && now - *last >= WAKEUP_GAP_NS) {
            *last = now;
            flags = BPF_RB_FORCE_WAKEUP;
        }
    }
    bpf_ringbuf_submit(e, flags);
}

/* The current thread's effective uid, from its subjective credentials (as Falco's drivers read it). */
static __always_inline __u32 current_euid(void)
{
    return BPF_CORE_READ(bpf_get_current_task_btf(), cred, euid.val);
}

static __always_inline void fill_header(struct header *h, __u32 kind)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    h->kind = kind;
    h->pid = pid_tgid >> 32;
    h->tid = (__u32)pid_tgid;
    h->euid = current_euid();
    h->time_ns = bpf_ktime_get_boot_ns();
    h->cgroup_id = bpf_get_current_cgroup_id();
    bpf_get_current_comm(h->comm, sizeof(h->comm));
}

static __always_inline void flush_syscalls(__u32 tid, struct syscall_buf *b)
{
    if (b->n == 0)
        return;
    struct syscalls_event *e = reserve(sizeof(*e));
    if (!e) {
        b->n = 0;
        return;
    }
    fill_header(&e->h, KIND_SYSCALLS);
    e->n = b->n > SYSCALL_BATCH ? SYSCALL_BATCH : b->n;
    __builtin_memcpy(e->ids, b->ids, sizeof(e->ids));
    submit(e);
    b->n = 0;
}

#define NAME_LEN 64
#define WALK_DEPTH 16

/* A path (dentry d on mount vm) as NUL-separated components, last first ("shadow\0etc\0"), into buf
 * (PATH_LEN bytes), walking the dentries up to the process's root and across mounts; returns the bytes
 * written (0 for the root itself). */
static __always_inline __u32 rebuild_in(char *buf, __u32 size, struct dentry *d, struct vfsmount *vm,
                                         struct task_struct *task)
{
    struct dentry *root = BPF_CORE_READ(task, fs, root.dentry);
    struct vfsmount *root_mnt = BPF_CORE_READ(task, fs, root.mnt);
    __u32 off = 0;
    for (int i = 0; i < WALK_DEPTH; i++) {
        if (d == root && vm == root_mnt)
            break;
        if (d == BPF_CORE_READ(vm, mnt_root)) {
            /* The top of a mount: continue from where it is mounted. */
            struct mount *m = (void *)vm - bpf_core_field_offset(struct mount, mnt);
            struct mount *parent = BPF_CORE_READ(m, mnt_parent);
            if (parent == m)
                break;
            d = BPF_CORE_READ(m, mnt_mountpoint);
            vm = (void *)parent + bpf_core_field_offset(struct mount, mnt);
            continue;
        }
        if (off > size - NAME_LEN)
            break;
        long n = bpf_probe_read_kernel_str(buf + off, NAME_LEN, BPF_CORE_READ(d, d_name.name));
        if (n <= 0 || n > NAME_LEN)
            break;
        off += n;
        struct dentry *parent = BPF_CORE_READ(d, d_parent);
        if (parent == d)
            break;
        d = parent;
    }
    return off;
}

static __always_inline __u32 rebuild(char *buf, struct dentry *d, struct vfsmount *vm, struct task_struct *task)
{
    return rebuild_in(buf, PATH_LEN, d, vm, task);
}

/* The working directory of `task`, as rebuild() writes it, into buf; -1 when the task has none (a kernel
 * thread, an exiting task). */
static __always_inline long rebuild_cwd(char *buf, struct task_struct *task)
{
    struct dentry *pwd = BPF_CORE_READ(task, fs, pwd.dentry);
    if (!pwd)
        return -1;
    return rebuild(buf, pwd, BPF_CORE_READ(task, fs, pwd.mnt), task);
}

/* An open file's path, as rebuild() writes it. */
static __always_inline __u32 rebuild_path(char *buf, struct file *f, struct task_struct *task)
{
    return rebuild(buf, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), task);
}

static __always_inline bool has_prefix(const char *s, const char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] != p[i])
            return false;
    return true;
}

/* Whether an open file's own name (its dentry's) begins with the n bytes of p (n at most 9). */
static __always_inline bool file_name_starts(struct file *f, const char *p, int n)
{
    char name[9] = {};
    bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(f, f_path.dentry, d_name.name));
    return has_prefix(name, p, n);
}

/* Whether an open file is a memfd: memfd_create's files are named "memfd:<name>" and live on no disk. */
static __always_inline bool is_memfd(struct file *f) { return file_name_starts(f, "memfd:", 6); }

/* An inode's change and modification times, ns since the epoch, whichever way this kernel keeps them:
 * i_ctime_sec/_nsec (6.11 on), __i_ctime with __i_mtime (6.7-6.10) or i_mtime (6.6), i_ctime and i_mtime
 * (before). Only the first is exercised by the test suite's kernel. */
struct inode___v67 {
    struct timespec64 __i_ctime;
    struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));
struct inode___v66 {
    struct timespec64 __i_ctime;
    struct timespec64 i_mtime;
} __attribute__((preserve_access_index));
struct inode___old {
    struct timespec64 i_ctime;
    struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

/* Multigrain timestamps (6.13 on) keep a flag in bit 31 of i_ctime_nsec (I_CTIME_QUERIED); nanoseconds never
 * reach it. */
static __always_inline __u64 ts_ns(__s64 sec, __s64 nsec)
{
    return sec > 0 ? (__u64)sec * 1000000000ull + ((__u64)nsec & 0x7fffffff) : 0;
}

static __always_inline void inode_times(struct inode *ino, __u64 *ctime, __u64 *mtime)
{
    if (bpf_core_field_exists(ino->i_ctime_sec)) {
        *ctime = ts_ns(BPF_CORE_READ(ino, i_ctime_sec), BPF_CORE_READ(ino, i_ctime_nsec));
        *mtime = ts_ns(BPF_CORE_READ(ino, i_mtime_sec), BPF_CORE_READ(ino, i_mtime_nsec));
        return;
    }
    struct inode___v67 *v67 = (void *)ino;
    struct inode___v66 *v66 = (void *)ino;
    struct inode___old *old = (void *)ino;
    if (bpf_core_field_exists(v67->__i_mtime)) {
        *ctime = ts_ns(BPF_CORE_READ(v67, __i_ctime.tv_sec), BPF_CORE_READ(v67, __i_ctime.tv_nsec));
        *mtime = ts_ns(BPF_CORE_READ(v67, __i_mtime.tv_sec), BPF_CORE_READ(v67, __i_mtime.tv_nsec));
    } else if (bpf_core_field_exists(v66->__i_ctime)) {
        *ctime = ts_ns(BPF_CORE_READ(v66, __i_ctime.tv_sec), BPF_CORE_READ(v66, __i_ctime.tv_nsec));
        *mtime = ts_ns(BPF_CORE_READ(v66, i_mtime.tv_sec), BPF_CORE_READ(v66, i_mtime.tv_nsec));
    } else {
        *ctime = ts_ns(BPF_CORE_READ(old, i_ctime.tv_sec), BPF_CORE_READ(old, i_ctime.tv_nsec));
        *mtime = ts_ns(BPF_CORE_READ(old, i_mtime.tv_sec), BPF_CORE_READ(old, i_mtime.tv_nsec));
    }
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
    if (!is_watched())
        return 0;
    {
        /* The old program's system calls end here: its batch goes out before the exec, so that a batch
         * never mixes two programs (the sequence models learn per program). */
        __u32 tid = (__u32)bpf_get_current_pid_tgid();
        struct syscall_buf *b = bpf_map_lookup_elem(&stream_buf, &tid);
        if (b)
            flush_syscalls(tid, b);
    }
    struct exec_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    fill_header(&e->h, KIND_EXEC);
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    /* The parent may be gone by the time userspace looks: its command name travels with the event. */
    BPF_CORE_READ_STR_INTO(&e->parent_comm, task, real_parent, comm);
    const struct cred *cred = BPF_CORE_READ(task, cred);
    e->uid = BPF_CORE_READ(cred, uid.val);
    e->gid = BPF_CORE_READ(cred, gid.val);
    e->euid = BPF_CORE_READ(cred, euid.val);
    e->egid = BPF_CORE_READ(cred, egid.val);
    /* kernel_cap_t is a u64 (6.3+) or two u32 (before): 8 little-endian bytes either way. */
    e->cap_effective = 0;
    bpf_probe_read_kernel(&e->cap_effective, sizeof(e->cap_effective), &cred->cap_effective);
    e->cap_permitted = 0;
    bpf_probe_read_kernel(&e->cap_permitted, sizeof(e->cap_permitted), &cred->cap_permitted);
    e->loginuid = BPF_CORE_READ(task, loginuid.val);
    /* Executing a memfd leaves nothing on disk. */
    e->flags = is_memfd(BPF_CORE_READ(bprm, file)) ? EXEC_FROM_MEMFD : 0;
    /* The controlling terminal, encoded as the kernel's new_encode_dev (what /proc/<pid>/stat shows). */
    e->tty = 0;
    struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
    if (tty) {
        __u32 major = BPF_CORE_READ(tty, driver, major);
        __u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
        e->tty = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
    }
    /* A shell with job control puts each command it runs in a process group of its own (typed at a
     * terminal); a script's commands stay in the script's group. Falco's proc.is_vpgid_leader. */
    if (BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID]) == BPF_CORE_READ(task, thread_pid))
        e->flags |= EXEC_PGRP_LEADER;
    /* Its session's leader (Falco's proc.sid, for proc.sname), numbered as the host numbers it. */
    struct pid *session = BPF_CORE_READ(task, signal, pids[PIDTYPE_SID]);
    e->sid = session ? BPF_CORE_READ(session, numbers[0].nr) : 0;
    /* The program file's inode: when it was last changed (Falco's proc.exe_ino.*: a binary changed just
     * before it runs was dropped there). */
    struct inode *ino = BPF_CORE_READ(bprm, file, f_inode);
    e->exe_ino = BPF_CORE_READ(ino, i_ino);
    inode_times(ino, &e->exe_ctime_ns, &e->exe_mtime_ns);
    long n = bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), BPF_CORE_READ(bprm, filename));
    e->exe_len = n > 0 ? n : 0;
    /* The working directory, for proc.cwd and for what relative paths in argv mean. */
    long cwd = rebuild_cwd(e->cwd, task);
    e->cwd_len = cwd > 0 ? cwd : 0;
    if (cwd >= 0)
        e->flags |= EXEC_CWD_KNOWN;
    /* A program run by a relative path ("./x", "bin/x") is named by the file's own path. */
    if (n > 0 && e->exe[0] != '/' && !(e->flags & EXEC_FROM_MEMFD)) {
        __u32 len = rebuild_path(e->exe, BPF_CORE_READ(bprm, file), task);
        if (len > 0) {
            e->exe_len = len;
            e->flags |= EXEC_EXE_REBUILT;
        }
    }
    /* argv lives in the new program's memory, between arg_start and arg_end. */
    struct mm_struct *mm = BPF_CORE_READ(task, mm);
    unsigned long start = BPF_CORE_READ(mm, arg_start);
    unsigned long end = BPF_CORE_READ(mm, arg_end);
    unsigned long len = end > start ? end - start : 0;
    if (len > ARGS_LEN - 1) {
        e->flags |= EXEC_ARGS_TRUNCATED;
        len = ARGS_LEN - 1;
    }
    len &= (ARGS_LEN - 1); /* a bound the verifier can see */
    e->args_len = 0;
    if (len > 0 && bpf_probe_read_user(e->args, len, (void *)start) == 0)
        e->args_len = len;
    else if (len > 0)
        count_drop(DROP_READ_FAILED);
    /* The environment, just after argv: for LD_PRELOAD, GLIBC_TUNABLES, proxies (Falco's proc.env). */
    start = BPF_CORE_READ(mm, env_start);
    end = BPF_CORE_READ(mm, env_end);
    len = end > start ? end - start : 0;
    if (len > ENV_LEN - 1) {
        e->flags |= EXEC_ENV_TRUNCATED;
        len = ENV_LEN - 1;
    }
    len &= (ENV_LEN - 1);
    e->env_len = 0;
    /* The pid the process has in its own pid namespace: 1 for the first process of a container (Falco's
     * proc.vpid; its container_started macro). */
    struct pid *tp = BPF_CORE_READ(task, thread_pid);
    unsigned int level = BPF_CORE_READ(tp, level);
    e->vpid = BPF_CORE_READ(tp, numbers[level].nr);
    if (len > 0 && bpf_probe_read_user(e->env, len, (void *)start) == 0)
        e->env_len = len;
    submit(e);
    return 0;
}

/* Loaded only when some cgroup streams: it runs on every system call of the host. */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
    if (!cgroup_verdict(&stream_cgroups, &stream_verdicts, STREAM_SET))
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct syscall_buf *b = bpf_map_lookup_elem(&stream_buf, &tid);
    if (!b) {
        struct syscall_buf fresh = {};
        bpf_map_update_elem(&stream_buf, &tid, &fresh, BPF_NOEXIST);
        b = bpf_map_lookup_elem(&stream_buf, &tid);
        if (!b)
            return 0;
    }
    __u32 n = b->n;
    if (n < SYSCALL_BATCH)
        b->ids[n] = (__u16)id;
    b->n = n + 1;
    if (b->n >= SYSCALL_BATCH)
        flush_syscalls(tid, b);
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    {
        __u32 tid = (__u32)pid_tgid;
        struct syscall_buf *b = bpf_map_lookup_elem(&stream_buf, &tid);
        if (b) {
            flush_syscalls(tid, b);
            bpf_map_delete_elem(&stream_buf, &tid);
        }
    }
    if ((__u32)pid_tgid != (pid_tgid >> 32))
        return 0; /* a thread, not the process */
    if (!is_watched())
        return 0;
    struct exit_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    fill_header(&e->h, KIND_EXIT);
    e->status = BPF_CORE_READ(task, exit_code);
    e->_pad = 0;
    submit(e);
    return 0;
}

#define O_ACCMODE 00000003
#define O_RDONLY 00000000
#define O_WRONLY 00000001
#define O_CREAT 00000100
#define O_TRUNC 00001000

/* Paths whose mere reading matters: kestrel_core::SENSITIVE_READS, the same list (a test compares them). */
static __always_inline bool sensitive(const char *p)
{
    return has_prefix(p, "/etc/shadow", 11) || has_prefix(p, "/etc/gshadow", 12) ||
           has_prefix(p, "/etc/sudoers", 12) || has_prefix(p, "/root/.ssh/", 11) ||
           has_prefix(p, "/etc/kubernetes/", 16) || has_prefix(p, "/var/run/secrets/", 17) ||
           has_prefix(p, "/run/secrets/", 13) || has_prefix(p, "/proc/kcore", 11) ||
           has_prefix(p, "/dev/mem", 8) || has_prefix(p, "/etc/ld.so.preload", 18);
}

/* The first eight bytes of each sensitive prefix, as a little-endian word (all prefixes are ≥ 8 bytes). */
#define W8(a, b, c, d, e, f, g, h)                                                                             \
    ((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 |                \
     (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

static __always_inline bool sensitive_start(__u64 w)
{
    return w == W8('/', 'e', 't', 'c', '/', 's', 'h', 'a') || w == W8('/', 'e', 't', 'c', '/', 'g', 's', 'h') ||
           w == W8('/', 'e', 't', 'c', '/', 's', 'u', 'd') || w == W8('/', 'r', 'o', 'o', 't', '/', '.', 's') ||
           w == W8('/', 'e', 't', 'c', '/', 'k', 'u', 'b') || w == W8('/', 'v', 'a', 'r', '/', 'r', 'u', 'n') ||
           w == W8('/', 'r', 'u', 'n', '/', 's', 'e', 'c') || w == W8('/', 'p', 'r', 'o', 'c', '/', 'k', 'c') ||
           w == W8('/', 'd', 'e', 'v', '/', 'm', 'e', 'm') || w == W8('/', 'e', 't', 'c', '/', 'l', 'd', '.');
}

/* The open file behind descriptor `fd` of `task`, or NULL. */
static __always_inline struct file *file_of_fd(struct task_struct *task, long fd)
{
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
        return NULL;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *f = NULL;
    if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
        return NULL;
    return f;
}

/* Read-only opens are decided on the path's first bytes, on the stack, before anything is reserved in the
 * ring buffer: most opens are reads of ordinary files, and they should cost no ring-buffer traffic. */
#define SENSITIVE_HEAD 32

/* Threads inside an open for writing by a relative path (or a directory descriptor): the path as given says
 * nothing of where the file is, so the open is reported when it returns, its path rebuilt from the file. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, __u8);
} relative_writes SEC(".maps");

/* A path that does not start with a sensitive prefix can still name a sensitive file: `/etc//shadow`,
 * `../../etc/shadow`, `shadow` from /etc, a dirfd, a symbolic link. So when an open for reading succeeds, the
 * opened file's own name is looked at; a file named like a sensitive one has its path rebuilt from the kernel's
 * dentries (up to the process's root, across mounts) and is reported, flagged OPEN_RESOLVED; userspace keeps it
 * when the rebuilt path is sensitive and was not already reported at entry. A process's environment
 * (`/proc/self/environ`, `/proc/PID/environ`) is found this way only: no fixed prefix names it. */
#define OPEN_RESOLVED 0x80000000u
#define FMODE_WRITE 0x2
static __always_inline bool sensitive_name(const char *n)
{
    return has_prefix(n, "shadow", 6) || has_prefix(n, "gshadow", 7) || has_prefix(n, "sudoers", 7) ||
           has_prefix(n, "ld.so.preload", 14) || has_prefix(n, "kcore", 6) || has_prefix(n, "mem", 4) ||
           has_prefix(n, "token", 6) || has_prefix(n, "ca.crt", 7) || has_prefix(n, "id_", 3) ||
           has_prefix(n, "authorized_keys", 16) || has_prefix(n, "admin.conf", 11) || has_prefix(n, "environ", 8);
}

#define OPEN_AT_ENTRY 0x40000000u
#define AT_FDCWD -100
/* Longest file name the name check finds (the sensitive names are shorter). */
#define TAIL 32

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, char[PATH_LEN + TAIL]);
} path_scratch SEC(".maps");

/* A path comes from user memory (a system call's argument) or, for io_uring, from the kernel's copy of it:
 * `kernel` is a constant at every call site, so each inlined copy reads one way. */
static __always_inline long read_str(void *dst, __u32 size, const void *src, bool kernel)
{
    return kernel ? bpf_probe_read_kernel_str(dst, size, src) : bpf_probe_read_user_str(dst, size, src);
}

static __always_inline long read_mem(void *dst, __u32 size, const void *src, bool kernel)
{
    return kernel ? bpf_probe_read_kernel(dst, size, src) : bpf_probe_read_user(dst, size, src);
}

/* Whether the last component of the path `upath` is named like a sensitive file. */
static __always_inline bool ends_sensitive(const char *upath, bool kernel)
{
    __u32 zero = 0;
    char *buf = bpf_map_lookup_elem(&path_scratch, &zero);
    if (!buf)
        return false;
    long n = read_str(buf, PATH_LEN, upath, kernel);
    if (n <= 1)
        return false;
    long end = n - 1; /* the NUL */
    long start = -1;
    for (int i = 1; i <= TAIL; i++) {
        long j = end - i;
        if (j < 0) {
            start = 0;
            break;
        }
        if (buf[j & (PATH_LEN - 1)] == '/') {
            start = j + 1;
            break;
        }
    }
    if (start < 0)
        return false; /* a name longer than TAIL */
    return sensitive_name(buf + (start & (PATH_LEN - 1)));
}

/* Whether the path `upath` (user or, `kernel`, kernel memory), as written, starts with a sensitive prefix. First its first eight bytes (one
 * copy, no string walk) against the prefixes' first eight; only a candidate is read further. A path shorter
 * than eight bytes at the very end of a page fails the 8-byte copy: it is then read as a string. */
static __always_inline bool starts_sensitive(const char *upath, bool kernel)
{
    __u64 first8 = 0;
    if (read_mem(&first8, sizeof(first8), upath, kernel) == 0 && !sensitive_start(first8))
        return false;
    char head[SENSITIVE_HEAD] = {};
    return read_str(head, sizeof(head), upath, kernel) > 0 && sensitive(head);
}

/* The directory a relative path given to a system call names — the working directory (AT_FDCWD) or the
 * descriptor's — as rebuild() writes it; -1 when it is not known. */
static __always_inline long rebuild_dir_in(char *buf, __u32 size, long dfd)
{
    struct task_struct *task = bpf_get_current_task_btf();
    struct dentry *d;
    struct vfsmount *vm;
    if ((int)dfd == AT_FDCWD) {
        d = BPF_CORE_READ(task, fs, pwd.dentry);
        vm = BPF_CORE_READ(task, fs, pwd.mnt);
    } else {
        struct file *dir = file_of_fd(task, dfd);
        if (!dir)
            return -1;
        d = BPF_CORE_READ(dir, f_path.dentry);
        vm = BPF_CORE_READ(dir, f_path.mnt);
    }
    if (!d)
        return -1;
    return rebuild_in(buf, size, d, vm, task);
}

static __always_inline long rebuild_dir(char *buf, long dfd) { return rebuild_dir_in(buf, PATH_LEN, dfd); }

/* Reports an open whose path as given does not say where the file is, with the directory it is relative to. */
static __always_inline int emit_relative(long dfd, const char *upath, __u32 flags, bool kernel)
{
    struct open_rel_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    long n = read_str(e->path, sizeof(e->path), upath, kernel);
    if (n <= 0) {
        bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
        return 0;
    }
    e->path_len = n;
    e->base_len = 0;
    e->_pad = 0;
    if (e->path[0] != '/') {
        long len = rebuild_dir(e->base, dfd);
        if (len < 0 && (int)dfd != AT_FDCWD) {
            bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
            return 0;
        }
        e->base_len = len > 0 ? len : 0;
    }
    fill_header(&e->h, KIND_OPEN);
    e->flags = flags | OPEN_RESOLVED | OPEN_AT_ENTRY;
    submit(e);
    return 0;
}

/* An open: by a system call (`kernel` false, `upath` in user memory; with `open_returns` the return side sees
 * it too) or submitted to io_uring (`kernel` true: the kernel's copy of the path; nothing sees its return, so
 * it is judged at submission whatever `open_returns` says). */
static __always_inline int emit_open(long dfd, const char *upath, __u32 flags, bool kernel)
{
    if (!is_watched())
        return 0;
    bool returns = open_returns && !kernel;
    bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
    if (writes) {
        char c = 0;
        if (read_mem(&c, 1, upath, kernel) == 0 && c != '/') {
            if (!returns)
                return emit_relative(dfd, upath, flags, kernel);
            __u32 tid = (__u32)bpf_get_current_pid_tgid();
            __u8 one = 1;
            bpf_map_update_elem(&relative_writes, &tid, &one, BPF_ANY);
            return 0;
        }
    } else {
        if (!starts_sensitive(upath, kernel)) {
            /* Not sensitive as written. With the return side on, the opened file is looked at there; without
             * it, a path ending in a sensitive file's name is reported with its directory, for userspace to
             * resolve (`/etc//shadow`, `cd /etc; cat shadow`, `../../etc/shadow`, a directory descriptor).
             * With every read wanted, any other read too: by an absolute path as given (below), by a relative
             * one with its directory. */
            if (returns)
                return 0;
            if (ends_sensitive(upath, kernel))
                return emit_relative(dfd, upath, flags, kernel);
            if (!all_reads)
                return 0;
            char c = 0;
            if (read_mem(&c, 1, upath, kernel) != 0)
                return 0;
            if (c != '/')
                return emit_relative(dfd, upath, flags, kernel);
        }
    }
    struct open_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    long n = read_str(e->path, sizeof(e->path), upath, kernel);
    if (n <= 0) {
        bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
        return 0;
    }
    fill_header(&e->h, KIND_OPEN);
    e->flags = flags;
    e->path_len = n;
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
    return emit_open((long)(int)ctx->args[0], (const char *)ctx->args[1], (__u32)ctx->args[2], false);
}

SEC("tracepoint/syscalls/sys_enter_open")
int on_open(struct trace_event_raw_sys_enter *ctx)
{
    return emit_open(AT_FDCWD, (const char *)ctx->args[0], (__u32)ctx->args[1], false);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int on_openat2(struct trace_event_raw_sys_enter *ctx)
{
    struct open_how how = {};
    bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
    return emit_open((long)(int)ctx->args[0], (const char *)ctx->args[1], (__u32)how.flags, false);
}

static __always_inline int exit_open(long fd)
{
    if (!is_watched())
        return 0;
    struct task_struct *task = bpf_get_current_task_btf();
    struct file *f = fd >= 0 ? file_of_fd(task, fd) : NULL;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    if (!f) {
        bpf_map_delete_elem(&relative_writes, &tid); /* a failed open: nothing to report */
        return 0;
    }
    if (BPF_CORE_READ(f, f_mode) & FMODE_WRITE) {
        /* Writes by absolute path were reported at entry; one by a relative path (noted then) is now. */
        if (bpf_map_delete_elem(&relative_writes, &tid))
            return 0;
    } else if (!all_reads) {
        char name[16] = {};
        bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(f, f_path.dentry, d_name.name));
        if (!sensitive_name(name))
            return 0;
    }
    struct open_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    fill_header(&e->h, KIND_OPEN);
    e->flags = BPF_CORE_READ(f, f_flags) | OPEN_RESOLVED;
    e->path_len = rebuild_path(e->path, f, task);
    if (e->path_len == 0) {
        bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
        return 0;
    }
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return exit_open(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_open")
int on_open_exit(struct trace_event_raw_sys_exit *ctx)
{
    return exit_open(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int on_openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
    return exit_open(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int on_creat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return exit_open(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int on_creat(struct trace_event_raw_sys_enter *ctx)
{
    return emit_open(AT_FDCWD, (const char *)ctx->args[0], O_CREAT | O_WRONLY | O_TRUNC, false);
}

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* The socket a file is, or NULL when it is not one (or there is no file). */
static __always_inline struct socket *socket_of_file(struct file *f)
{
    if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
        return NULL;
    return BPF_CORE_READ(f, private_data);
}

/* A sock's IP protocol (IPPROTO_TCP 6, IPPROTO_UDP 17…); 0 when it does not fit the record's byte. */
static __always_inline __u8 sock_protocol(struct sock *sk)
{
    __u64 proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
    return proto <= 255 ? (__u8)proto : 0;
}

/* The type and protocol of the socket behind the current process's descriptor `fd` (Falco's fd.l4proto);
 * left 0 when the descriptor is not a socket or cannot be read. */
static __always_inline void read_socket_kind(struct connect_event *e, long fd)
{
    e->sock_type = 0;
    e->sock_proto = 0;
    struct socket *sock = socket_of_file(file_of_fd(bpf_get_current_task_btf(), fd));
    if (!sock)
        return;
    struct sock *sk = BPF_CORE_READ(sock, sk);
    e->sock_type = (__u8)BPF_CORE_READ(sock, type);
    if (sk)
        e->sock_proto = sock_protocol(sk);
}

/* Fills the address part of a connect/bind/accept record from a sockaddr in user memory (a system call's
 * argument) or, `kernel`, the kernel's copy of one; false for other families. */
static __always_inline bool read_sockaddr(struct connect_event *e, const void *uaddr, bool kernel)
{
    __u16 family = 0;
    if (read_mem(&family, sizeof(family), uaddr, kernel))
        return false;
    if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
        return false;
    e->family = family;
    e->port = 0;
    e->local_port = 0;
    __builtin_memset(e->addr, 0, sizeof(e->addr));
    e->path[0] = 0;
    if (family == AF_INET) {
        struct sockaddr_in sa = {};
        read_mem(&sa, sizeof(sa), uaddr, kernel);
        e->port = bpf_ntohs(sa.sin_port);
        __builtin_memcpy(e->addr, &sa.sin_addr, 4);
    } else if (family == AF_INET6) {
        struct sockaddr_in6 sa = {};
        read_mem(&sa, sizeof(sa), uaddr, kernel);
        e->port = bpf_ntohs(sa.sin6_port);
        __builtin_memcpy(e->addr, &sa.sin6_addr, 16);
    } else {
        read_str(e->path, sizeof(e->path), uaddr + 2, kernel);
    }
    return true;
}

/* A record reserved and filled with the address at `uaddr` and the kind of socket `fd`; NULL (nothing left
 * reserved) when the ring is full or the address is of another family. The caller fills the header. */
static __always_inline struct connect_event *reserve_sockaddr(long fd, const void *uaddr, bool kernel)
{
    struct connect_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    if (!read_sockaddr(e, uaddr, kernel)) {
        bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
        return 0;
    }
    read_socket_kind(e, fd);
    return e;
}

#define DNS_PORT 53
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP 17

/* Messages to port 53 that are no query a socket may report (below). */
#define DNS_OTHER_REPORTS 8

/* A watched process's UDP and TCP sockets connected to port 53, and those that sent port 53 messages that are no
 * query: tgid << 32 | descriptor → 1 + the messages that were no query reported of it (at most DNS_OTHER_REPORTS:
 * a VPN or a WireGuard tunnel through port 53 is reported, not every one of its packets). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, __u8);
} dns_sockets SEC(".maps");

static __always_inline __u64 dns_socket_key(long fd)
{
    return (bpf_get_current_pid_tgid() & 0xffffffff00000000ULL) | (__u32)fd;
}

/* After a connect's record: a datagram or stream socket connected to port 53 is marked (DNS over TCP: a resolver's
 * fallback for long answers, glibc's `use-vc`, a tunnel's choice). */
static __always_inline void note_dns_socket(const struct connect_event *e, long fd)
{
    if (e->port == DNS_PORT && (e->sock_type == SOCK_DGRAM || e->sock_type == SOCK_STREAM)
        && (e->family == AF_INET || e->family == AF_INET6)) {
        __u64 key = dns_socket_key(fd);
        __u8 one = 1;
        bpf_map_update_elem(&dns_sockets, &key, &one, BPF_ANY);
    }
}

/* A connect's, bind's or accept's record (a connect to port 53 marks its socket: note_dns_socket). */
static __always_inline int emit_sockaddr(__u32 kind, long fd, const void *uaddr, bool kernel)
{
    if (!uaddr || !is_watched())
        return 0;
    struct connect_event *e = reserve_sockaddr(fd, uaddr, kernel);
    if (!e)
        return 0;
    if (kind == KIND_CONNECT)
        note_dns_socket(e, fd);
    fill_header(&e->h, kind);
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int on_connect(struct trace_event_raw_sys_enter *ctx)
{
    return emit_sockaddr(KIND_CONNECT, (long)ctx->args[0], (const void *)ctx->args[1], false);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int on_bind(struct trace_event_raw_sys_enter *ctx)
{
    return emit_sockaddr(KIND_BIND, (long)ctx->args[0], (const void *)ctx->args[1], false);
}

/* Datagrams sent to an address (sendto, sendmsg and sendmmsg with a destination): UDP and raw sockets talk to
 * peers without connect(), so a DNS tunnel or a UDP beacon would otherwise never show its peer. A send
 * without an address (a connected socket, the usual case) costs one comparison. Each process reports a
 * peer once per SEND_REPEAT_NS (a tunnel sends thousands of datagrams to one peer; a scan of many peers is
 * still seen peer by peer). A stream socket's address is ignored by the kernel — except with MSG_FASTOPEN,
 * which connects (TCP Fast Open): that is reported as the connect it is. */
#define SEND_REPEAT_NS (10ULL * 1000000000ULL)
#define MSG_FASTOPEN 0x20000000
#define SEND_SENDTO 1
#define SEND_SENDMSG 2
#define SEND_SENDMMSG 3

struct send_key {
    __u32 tgid;
    __u16 family;
    __u16 port; /* network order */
    __u8 addr[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192);
    __type(key, struct send_key);
    __type(value, __u64);
} send_peers SEC(".maps");

/* The peer a datagram goes to, as the dedup map's key; false for anything but inet and inet6. */
static __always_inline bool send_peer(struct send_key *key, const void *uaddr, bool kernel)
{
    __u16 family = 0;
    if (read_mem(&family, sizeof(family), uaddr, kernel))
        return false;
    key->tgid = bpf_get_current_pid_tgid() >> 32;
    key->family = family;
    if (family == AF_INET) {
        struct sockaddr_in sa = {};
        read_mem(&sa, sizeof(sa), uaddr, kernel);
        key->port = sa.sin_port;
        __builtin_memcpy(key->addr, &sa.sin_addr, 4);
        return true;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 sa = {};
        read_mem(&sa, sizeof(sa), uaddr, kernel);
        key->port = sa.sin6_port;
        __builtin_memcpy(key->addr, &sa.sin6_addr, 16);
        return true;
    }
    return false;
}

/* Whether this process was reported sending to the peer within SEND_REPEAT_NS. */
static __always_inline bool sent_lately(struct send_key *key, __u64 now)
{
    __u64 *last = bpf_map_lookup_elem(&send_peers, key);
    return last && now - *last < SEND_REPEAT_NS;
}

static __always_inline int emit_send(__u16 call, long fd, const void *uaddr, __u64 flags, bool kernel)
{
    if (!uaddr || !is_watched())
        return 0;
    /* A peer reported lately costs a read of its address and one lookup: nothing is reserved, the socket is
     * not looked at. With MSG_FASTOPEN the socket's kind decides first (a stream socket's is a connect). */
    struct send_key key = {};
    if (!send_peer(&key, uaddr, kernel))
        return 0;
    bool fast_open = flags & MSG_FASTOPEN;
    __u64 now = bpf_ktime_get_ns();
    if (!fast_open && sent_lately(&key, now))
        return 0;
    struct connect_event *e = reserve_sockaddr(fd, uaddr, kernel);
    if (!e)
        return 0;
    __u32 kind = KIND_CONNECT;
    if (e->sock_type != SOCK_STREAM || !fast_open) {
        /* A datagram (MSG_FASTOPEN means nothing to it), or a stream socket's ignored address: remembered
         * either way, so that repeats take the short way above. */
        if (fast_open && sent_lately(&key, now)) {
            bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
            return 0;
        }
        bpf_map_update_elem(&send_peers, &key, &now, BPF_ANY);
        if (e->sock_type == SOCK_STREAM) {
            bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
            return 0;
        }
        kind = KIND_SEND;
        e->local_port = call;
    }
    fill_header(&e->h, kind);
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int on_sendto(struct trace_event_raw_sys_enter *ctx)
{
    return emit_send(SEND_SENDTO, (long)ctx->args[0], (const void *)ctx->args[4], ctx->args[3], false);
}

/* sendmsg's destination is the msghdr's first field (msg_name); sendmmsg's are each message's, for the first
 * SENDMMSG_PEERS messages (a resolver sends its A and AAAA questions to one server in one call: one event;
 * a beacon spraying datagrams at several peers in one call shows each of them). */
#define SENDMMSG_PEERS 8
#define MMSGHDR_SIZE 64 /* struct mmsghdr on 64-bit: a msghdr (56 bytes), msg_len, padding */
static __always_inline const void *msg_name(const void *msghdr)
{
    const void *name = 0;
    if (!msghdr || bpf_probe_read_user(&name, sizeof(name), msghdr))
        return 0;
    return name;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int on_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
    return emit_send(SEND_SENDMSG, (long)ctx->args[0], msg_name((const void *)ctx->args[1]), ctx->args[2], false);
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int on_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
    const char *vec = (const char *)ctx->args[1];
    __u64 vlen = ctx->args[2];
    for (int i = 0; i < SENDMMSG_PEERS; i++) {
        if (i >= vlen)
            break;
        emit_send(SEND_SENDMMSG, (long)ctx->args[0], msg_name(vec + i * MMSGHDR_SIZE), ctx->args[3], false);
    }
    return 0;
}

/* The address part of a record from an inet socket: its peer (address and port; zero when not connected), its
 * local port and its type. The caller fills the header and `sock_proto`. */
static __always_inline void fill_peer(struct connect_event *e, struct sock *sk, __u16 family)
{
    e->family = family;
    e->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
    e->sock_type = (__u8)BPF_CORE_READ(sk, sk_type);
    __builtin_memset(e->addr, 0, sizeof(e->addr));
    e->path[0] = 0;
    if (family == AF_INET) {
        __u32 daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
        __builtin_memcpy(e->addr, &daddr, 4);
    } else {
        BPF_CORE_READ_INTO(&e->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    }
}

/* DNS questions (KIND_DNS): every datagram a watched process sends to port 53 — to an address (sendto, sendmsg,
 * sendmmsg: musl's resolver, a hand-made query), or on a UDP socket connected to it (glibc's resolver: send and
 * sendmmsg; Go's: write) — and every write to a TCP connection to port 53 (send, write, writev: glibc's TCP
 * fallback writes the length and the question as two buffers of one writev), with the first DNS_LEN bytes: the
 * name a tunnel hides its data in, or a beacon its check-in. A connect to port 53 marks the descriptor
 * (dns_sockets); a send or write without an address costs one lookup of that map, and a hit is checked against the
 * socket itself (the descriptor may have been closed and reused). io_uring's connects, sends and writes are seen
 * alike (on_io_uring_submit). Not seen: a send or write through the ring on a registered file (no descriptor),
 * resolvers in other processes (a node-local cache). */
/* Whether `h` (12 bytes) is a DNS query's header (RFC 1035, 4.1.1): no response, a question or more, no answer and no
 * authority records. Bytes that are no DNS pass once in about 2^33. */
static __always_inline int query_header(const __u8 *h)
{
    return !(h[2] & 0x80) && (h[4] | h[5]) && !(h[6] | h[7] | h[8] | h[9]);
}

/* Whether the first `len` bytes of a message to port 53 (at `data`, kernel memory) begin as a query: at once, or, on
 * a stream, after the 2-byte length too (what decode reads). */
static __always_inline int is_query(const __u8 *data, __u32 len, int stream)
{
    if (len >= 12 && query_header(data))
        return 1;
    return stream && len >= 14 && query_header(data + 2);
}

/* Whether a message to port 53 in user memory (`ubuf`, `len` bytes; then `more` when `ubuf` is a stream's 2-byte
 * length alone) begins as a query: its first 14 bytes read. */
static __always_inline int query_at(const void *ubuf, __u64 len, const void *more, __u64 more_len, int stream)
{
    __u8 head[14] = {};
    if (stream && len == 2 && more) {
        ubuf = more;
        len = more_len;
        stream = 0;
    }
    if (!ubuf || len < 12)
        return 0;
    if (len >= 14)
        return !bpf_probe_read_user(head, 14, ubuf) && is_query(head, 14, stream);
    return !bpf_probe_read_user(head, 12, ubuf) && is_query(head, 12, stream);
}

/* Reports the datagram at `ubuf` (`len` bytes, user memory) sent on descriptor `fd` to `uaddr` (user memory),
 * or without an address to the socket's peer, when that is port 53. `more` (`more_len` bytes) follows `ubuf` when
 * `ubuf` is a TCP message's 2-byte length alone (writev). */
static __always_inline int emit_dns(long fd, const void *uaddr, bool kernel, const void *ubuf, __u64 len,
                                    const void *more, __u64 more_len)
{
    struct sock *sk = 0;
    int stream = 0;
    __u64 key = dns_socket_key(fd);
    /* The socket's entry: marked by a connect, or counting messages that were no query. */
    __u8 *others = 0;
    if (uaddr) {
        struct send_key peer = {};
        if (!send_peer(&peer, uaddr, kernel) || peer.port != bpf_htons(DNS_PORT) || !is_watched())
            return 0;
        others = bpf_map_lookup_elem(&dns_sockets, &key);
    } else {
        others = bpf_map_lookup_elem(&dns_sockets, &key);
        if (!others)
            return 0;
        struct socket *sock = socket_of_file(file_of_fd(bpf_get_current_task_btf(), fd));
        sk = sock ? BPF_CORE_READ(sock, sk) : 0;
        if (!sk || BPF_CORE_READ(sk, __sk_common.skc_dport) != bpf_htons(DNS_PORT)) {
            bpf_map_delete_elem(&dns_sockets, &key);
            return 0;
        }
        stream = BPF_CORE_READ(sk, sk_type) == SOCK_STREAM;
        /* A TCP message's length written alone, its question to follow in the next write: nothing yet. */
        if ((stream && len == 2 && !more) || !is_watched())
            return 0;
    }
    if (others && *others > DNS_OTHER_REPORTS && !query_at(ubuf, len, more, more_len, stream))
        return 0;
    struct dns_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    if (uaddr) {
        read_sockaddr(&e->c, uaddr, kernel);
    } else {
        fill_peer(&e->c, sk, BPF_CORE_READ(sk, __sk_common.skc_family));
        e->c.local_port = 0;
    }
    e->c.sock_type = stream ? SOCK_STREAM : SOCK_DGRAM;
    e->c.sock_proto = stream ? IPPROTO_TCP_ : IPPROTO_UDP;
    __u64 n = len;
    if (n > DNS_LEN)
        n = DNS_LEN;
    e->len = 0;
    if (ubuf && n && !bpf_probe_read_user(e->data, n, ubuf))
        e->len = n;
    if (e->len == 2 && more && more_len) {
        __u64 m = more_len;
        if (m > DNS_LEN - 2)
            m = DNS_LEN - 2;
        if (!bpf_probe_read_user(e->data + 2, m, more))
            e->len = 2 + m;
    }
    if (!is_query(e->data, e->len, stream)) {
        __u8 reported = others ? *others + 1 : 2;
        bpf_map_update_elem(&dns_sockets, &key, &reported, BPF_ANY);
    }
    fill_header(&e->c.h, KIND_DNS);
    submit(e);
    return 0;
}

/* The buffers a DNS question is sent from, of `count` iovecs at `vec` in user memory: the first (a resolver's
 * question is one buffer), and the second when the first is two bytes (a TCP message's length, then the message:
 * glibc's writev, musl's sendmsg). Returns 0 when the first cannot be read. */
static __always_inline int iov_buffers(const struct iovec *vec, __u64 count, const void **buf, __u64 *len,
                                       const void **more, __u64 *more_len)
{
    struct iovec iov[2] = {};
    if (!vec || !count || bpf_probe_read_user(&iov[0], sizeof(iov[0]), vec))
        return 0;
    if (count > 1 && iov[0].iov_len == 2 && !bpf_probe_read_user(&iov[1], sizeof(iov[1]), vec + 1)) {
        *more = iov[1].iov_base;
        *more_len = iov[1].iov_len;
    }
    *buf = iov[0].iov_base;
    *len = iov[0].iov_len;
    return 1;
}

static __always_inline int emit_dns_msg(long fd, const void *msghdr)
{
    struct user_msghdr m = {};
    const void *buf = 0, *more = 0;
    __u64 len = 0, more_len = 0;
    if (!msghdr || bpf_probe_read_user(&m, sizeof(m), msghdr)
        || !iov_buffers(m.msg_iov, m.msg_iovlen, &buf, &len, &more, &more_len) || !buf)
        return 0;
    return emit_dns(fd, msg_name(msghdr), false, buf, len, more, more_len);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int on_dns_sendto(struct trace_event_raw_sys_enter *ctx)
{
    return emit_dns((long)ctx->args[0], (const void *)ctx->args[4], false, (const void *)ctx->args[1], ctx->args[2], 0,
                    0);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int on_dns_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
    return emit_dns_msg((long)ctx->args[0], (const void *)ctx->args[1]);
}

/* A resolver asks its A and AAAA questions in one sendmmsg: each of the first SENDMMSG_PEERS messages. */
SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int on_dns_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
    const char *vec = (const char *)ctx->args[1];
    __u64 vlen = ctx->args[2];
    for (int i = 0; i < SENDMMSG_PEERS; i++) {
        if (i >= vlen)
            break;
        emit_dns_msg((long)ctx->args[0], vec + i * MMSGHDR_SIZE);
    }
    return 0;
}

/* write on a connected socket (Go's resolver): the map lookup is all other writes cost. */
SEC("tracepoint/syscalls/sys_enter_write")
int on_dns_write(struct trace_event_raw_sys_enter *ctx)
{
    return emit_dns((long)ctx->args[0], 0, false, (const void *)ctx->args[1], ctx->args[2], 0, 0);
}

/* A writev of `count` iovecs at `vec` (user memory) on descriptor `fd`, as a DNS question if the socket is marked:
 * the first buffer, and the second after a first of two bytes. */
static __always_inline int emit_dns_iov(long fd, const struct iovec *vec, __u64 count)
{
    const void *buf = 0, *more = 0;
    __u64 len = 0, more_len = 0;
    if (!iov_buffers(vec, count, &buf, &len, &more, &more_len))
        return 0;
    return emit_dns(fd, 0, false, buf, len, more, more_len);
}

/* writev on a connected socket (glibc's DNS over TCP: the length, then the question). The map lookup is all other
 * writev calls cost. */
SEC("tracepoint/syscalls/sys_enter_writev")
int on_dns_writev(struct trace_event_raw_sys_enter *ctx)
{
    return emit_dns_iov((long)ctx->args[0], (const struct iovec *)ctx->args[1], ctx->args[2]);
}

/* Packet sockets (AF_PACKET: every frame of an interface, ARP spoofing, CVE-2020-14386) and raw IP sockets
 * (forged packets, sniffing): `socket` records, the protocol in `addr` bytes 0–3. Other sockets cost the
 * tracepoint's dispatch and two comparisons. (ping's unprivileged ICMP sockets are SOCK_DGRAM: not reported.) */
#define AF_PACKET 17
#define SOCK_RAW 3
#define SOCK_TYPE_MASK 0xf

/* A connect-layout record with no address: its fields zeroed but for `family`, `sock_type` and the first two
 * words of `addr`, which listen and socket records use for their own numbers. */
static __always_inline void fill_addressless(struct connect_event *e, __u32 kind, __u16 family, __u8 sock_type,
                                             __u32 word0, __u32 word1)
{
    fill_header(&e->h, kind);
    e->family = family;
    e->port = 0;
    e->local_port = 0;
    e->sock_type = sock_type;
    e->sock_proto = 0;
    __builtin_memset(e->addr, 0, sizeof(e->addr));
    __builtin_memcpy(e->addr, &word0, 4);
    __builtin_memcpy(e->addr + 4, &word1, 4);
    e->path[0] = 0;
}

static __always_inline int emit_socket(int domain, int type, int protocol)
{
    int kind = type & SOCK_TYPE_MASK;
    if (domain != AF_PACKET && !((domain == AF_INET || domain == AF_INET6) && kind == SOCK_RAW))
        return 0;
    if (!is_watched())
        return 0;
    struct connect_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    fill_addressless(e, KIND_SOCKET, (__u16)domain, (__u8)kind, (__u32)protocol, 0);
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_socket")
int on_socket(struct trace_event_raw_sys_enter *ctx)
{
    return emit_socket((int)ctx->args[0], (int)ctx->args[1], (int)ctx->args[2]);
}

static __always_inline int emit_listen(__u32 fd, __u32 backlog)
{
    if (!is_watched())
        return 0;
    struct connect_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    fill_addressless(e, KIND_LISTEN, 0, 0, fd, backlog);
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_listen")
int on_listen(struct trace_event_raw_sys_enter *ctx)
{
    return emit_listen(ctx->args[0], ctx->args[1]);
}

/* accept, without any system-call probe (a sys_exit probe would slow every system call on the node, and
 * probes on every send and receive cost a busy server more than they tell). A TCP socket that starts to
 * listen in a watched process is remembered — by network namespace and port — with that process; when the
 * kernel completes a connection's handshake for it (softirq, `inet_sock_set_state` SYN_RECV → ESTABLISHED),
 * the accept is reported with the peer and the local port, attributed to the listening process. */
#define TCP_ESTABLISHED_ 1
#define TCP_SYN_RECV_ 3
#define TCP_CLOSE_ 7
#define TCP_LISTEN_ 10

struct kestrel_listener_key {
    __u32 netns;
    __u32 port;
};

struct kestrel_listener {
    __u32 pid;
    __u32 tid;
    __u64 cgroup_id;
    char comm[COMM_LEN];
    __u32 euid;             /* the listener's effective uid when it called listen() */
    __u32 _pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, struct kestrel_listener_key);
    __type(value, struct kestrel_listener);
} listeners SEC(".maps");

static __always_inline struct kestrel_listener_key listener_key_of(struct sock *sk)
{
    struct kestrel_listener_key k = {
        .netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum),
        .port = BPF_CORE_READ(sk, __sk_common.skc_num),
    };
    return k;
}

static __always_inline void report_accept(struct sock *sk, const struct kestrel_listener *l)
{
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family != AF_INET && family != AF_INET6)
        return;
    struct connect_event *e = reserve(sizeof(*e));
    if (!e)
        return;
    /* Softirq: the current task is whoever was interrupted; the header is the listener's. */
    e->h.kind = KIND_ACCEPT;
    e->h.pid = l->pid;
    e->h.tid = l->tid;
    e->h.euid = l->euid;
    e->h.time_ns = bpf_ktime_get_boot_ns();
    e->h.cgroup_id = l->cgroup_id;
    __builtin_memcpy(e->h.comm, l->comm, sizeof(e->h.comm));
    fill_peer(e, sk, family);
    e->sock_proto = 6; /* inet_sock_set_state: TCP's state machine */
    submit(e);
}

/* A network connection made a standard stream: dup2(s, n) or dup3(s, n, …) with n ≤ 2, or dup(s) and
 * fcntl(s, F_DUPFD[_CLOEXEC], n ≤ 2) while one of n..2 is free (the lowest free descriptor is the one made:
 * `close(0); dup(s)`, Python's os.dup), where s is an inet socket — a reverse shell's redirection (Falco's
 * "Redirect STDOUT/STDIN to Network Connection"). Judged at entry like every other call here (a sys_exit
 * tracepoint would tax every system call of the host): a call onto any other descriptor, or another fcntl
 * command, costs one comparison. `f` is the file the standard stream `newfd` is to be. */
static __always_inline int emit_dup(__u8 call, struct file *f, long newfd)
{
    struct socket *sock = socket_of_file(f);
    struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
    if (!sk)
        return 0;
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family != AF_INET && family != AF_INET6)
        return 0;
    struct connect_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    fill_header(&e->h, KIND_DUP);
    fill_peer(e, sk, family);
    e->sock_proto = sock_protocol(sk);
    e->path[0] = call;
    e->path[1] = (char)newfd;
    submit(e);
    return 0;
}

/* dup2/dup3 onto a standard stream. */
static __always_inline int dup_onto(__u8 call, long oldfd, long newfd)
{
    if (newfd < 0 || newfd > 2 || !is_watched())
        return 0;
    return emit_dup(call, file_of_fd(bpf_get_current_task_btf(), oldfd), newfd);
}

/* dup and fcntl F_DUPFD: the lowest free descriptor from `from` on, when it is a standard stream. */
static __always_inline int dup_lowest(__u8 call, long oldfd, long from)
{
    if (from < 0 || from > 2 || !is_watched())
        return 0;
    struct task_struct *task = bpf_get_current_task_btf();
    long newfd = -1;
    for (long fd = 0; fd <= 2; fd++) {
        if (fd >= from && newfd < 0 && !file_of_fd(task, fd))
            newfd = fd;
    }
    if (newfd < 0)
        return 0;
    return emit_dup(call, file_of_fd(task, oldfd), newfd);
}

SEC("tracepoint/syscalls/sys_enter_dup")
int on_dup(struct trace_event_raw_sys_enter *ctx) { return dup_lowest(1, (long)ctx->args[0], 0); }
SEC("tracepoint/syscalls/sys_enter_dup2")
int on_dup2(struct trace_event_raw_sys_enter *ctx) { return dup_onto(2, (long)ctx->args[0], (long)ctx->args[1]); }
SEC("tracepoint/syscalls/sys_enter_dup3")
int on_dup3(struct trace_event_raw_sys_enter *ctx) { return dup_onto(3, (long)ctx->args[0], (long)ctx->args[1]); }

#define F_DUPFD_ 0
#define F_DUPFD_CLOEXEC_ 1030

SEC("tracepoint/syscalls/sys_enter_fcntl")
int on_fcntl(struct trace_event_raw_sys_enter *ctx)
{
    long cmd = (long)ctx->args[1];
    if (cmd != F_DUPFD_ && cmd != F_DUPFD_CLOEXEC_)
        return 0;
    return dup_lowest(4, (long)ctx->args[0], (long)ctx->args[2]);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_sock_state, struct sock *sk, const int oldstate, const int newstate)
{
    if (sk->sk_protocol != IPPROTO_TCP_)
        return 0;
    if (oldstate == TCP_SYN_RECV_ && newstate == TCP_ESTABLISHED_) {
        struct kestrel_listener_key k = listener_key_of(sk);
        struct kestrel_listener *l = bpf_map_lookup_elem(&listeners, &k);
        if (l)
            report_accept(sk, l);
    } else if (newstate == TCP_LISTEN_) {
        /* listen(): process context, the listening process is the current one. */
        if (!is_watched())
            return 0;
        struct kestrel_listener_key k = listener_key_of(sk);
        __u64 pid_tgid = bpf_get_current_pid_tgid();
        struct kestrel_listener l = {
            .pid = pid_tgid >> 32,
            .tid = (__u32)pid_tgid,
            .cgroup_id = bpf_get_current_cgroup_id(),
            .euid = current_euid(),
        };
        bpf_get_current_comm(l.comm, sizeof(l.comm));
        bpf_map_update_elem(&listeners, &k, &l, BPF_ANY);
    } else if (oldstate == TCP_LISTEN_ && newstate == TCP_CLOSE_) {
        /* The listener closed. (A new connection's socket, cloned from its listener, leaves LISTEN too —
         * for SYN_RECV: that is not the listener going away.) */
        struct kestrel_listener_key k = listener_key_of(sk);
        bpf_map_delete_elem(&listeners, &k);
    }
    return 0;
}

/* Privilege changes and other sensitive calls: every attempt of a watched process is reported. */
static __always_inline struct priv_event *priv_reserve(__u32 op)
{
    if (!is_watched())
        return NULL;
    struct priv_event *e = reserve(sizeof(*e));
    if (!e)
        return NULL;
    fill_header(&e->h, KIND_PRIV);
    e->op = op;
    e->_pad = 0;
    e->args[0] = e->args[1] = e->args[2] = 0;
    e->str1[0] = 0;
    e->str2[0] = 0;
    e->fstype[0] = 0;
    return e;
}

static __always_inline int priv_args(struct trace_event_raw_sys_enter *ctx, __u32 op, int n)
{
    struct priv_event *e = priv_reserve(op);
    if (!e)
        return 0;
    if (n > 0)
        e->args[0] = ctx->args[0];
    if (n > 1)
        e->args[1] = ctx->args[1];
    if (n > 2)
        e->args[2] = ctx->args[2];
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_setuid")
int on_setuid(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_SETUID, 1); }
SEC("tracepoint/syscalls/sys_enter_setgid")
int on_setgid(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_SETGID, 1); }
SEC("tracepoint/syscalls/sys_enter_setreuid")
int on_setreuid(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_SETREUID, 2); }
SEC("tracepoint/syscalls/sys_enter_setregid")
int on_setregid(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_SETREGID, 2); }
SEC("tracepoint/syscalls/sys_enter_setresuid")
int on_setresuid(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_SETRESUID, 3); }
SEC("tracepoint/syscalls/sys_enter_setresgid")
int on_setresgid(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_SETRESGID, 3); }
/* The caller's permitted capabilities (8 little-endian bytes, as exec records read them). */
static __always_inline __u64 current_cap_permitted(void)
{
    const struct cred *cred = BPF_CORE_READ(bpf_get_current_task_btf(), cred);
    __u64 caps = 0;
    bpf_probe_read_kernel(&caps, sizeof(caps), &cred->cap_permitted);
    return caps;
}

/* unshare: the flags, and the caller's permitted capabilities (a runtime's helper, never seen exec'ing,
 * unshares with all of them; an unprivileged process's unshare is what Falco's rule is after). */
SEC("tracepoint/syscalls/sys_enter_unshare")
int on_unshare(struct trace_event_raw_sys_enter *ctx)
{
    struct priv_event *e = priv_reserve(OP_UNSHARE);
    if (!e)
        return 0;
    e->args[0] = ctx->args[0];
    e->args[1] = current_cap_permitted();
    submit(e);
    return 0;
}
SEC("tracepoint/syscalls/sys_enter_setns")
int on_setns(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_SETNS, 2); }
SEC("tracepoint/syscalls/sys_enter_ptrace")
int on_ptrace(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_PTRACE, 2); }
SEC("tracepoint/syscalls/sys_enter_bpf")
int on_bpf(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_BPF, 1); }
SEC("tracepoint/syscalls/sys_enter_init_module")
int on_init_module(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_INIT_MODULE, 0); }
SEC("tracepoint/syscalls/sys_enter_finit_module")
int on_finit_module(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_FINIT_MODULE, 0); }

SEC("tracepoint/syscalls/sys_enter_capset")
int on_capset(struct trace_event_raw_sys_enter *ctx)
{
    struct priv_event *e = priv_reserve(OP_CAPSET);
    if (!e)
        return 0;
    /* The first data element holds capabilities 0–31, the second 32–63. */
    struct __user_cap_data_struct d[2] = {};
    bpf_probe_read_user(&d, sizeof(d), (void *)ctx->args[1]);
    e->args[0] = (__u64)d[0].effective | ((__u64)d[1].effective << 32);
    e->args[1] = (__u64)d[0].permitted | ((__u64)d[1].permitted << 32);
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_mount")
int on_mount(struct trace_event_raw_sys_enter *ctx)
{
    struct priv_event *e = priv_reserve(OP_MOUNT);
    if (!e)
        return 0;
    bpf_probe_read_user_str(e->str1, sizeof(e->str1), (void *)ctx->args[0]);
    bpf_probe_read_user_str(e->str2, sizeof(e->str2), (void *)ctx->args[1]);
    bpf_probe_read_user_str(e->fstype, sizeof(e->fstype), (void *)ctx->args[2]);
    e->args[0] = ctx->args[3];
    submit(e);
    return 0;
}

/* The new name of a link or a rename into str2 and how it was given into args[1] (PATH_DIRFD); a relative name
 * of at most RENAME_DIR_AT - 1 bytes gets its directory (dfd's, or the working directory) rebuilt into str2 from
 * RENAME_DIR_AT on, with PATH_DIR_REBUILT and its length in bits 16-31. Returns whether it was rebuilt. */
static __always_inline bool read_new_name(struct priv_event *e, const char *name, long dfd, bool kernel)
{
    e->args[1] = (int)dfd != AT_FDCWD ? PATH_DIRFD : 0;
    long n = read_str(e->str2, sizeof(e->str2), name, kernel);
    if (n <= 0 || n > RENAME_DIR_AT || e->str2[0] == '/')
        return false;
    long len = rebuild_dir_in(e->str2 + RENAME_DIR_AT, PATH_LEN - RENAME_DIR_AT, dfd);
    if (len < 0)
        return false;
    e->args[1] |= PATH_DIR_REBUILT | ((__u64)len << 16);
    return true;
}

/* Links, every one of the watched processes (rarer than the writes beside them): a link made to a sensitive
 * file (its path, as given, starts with a sensitive prefix or ends in a sensitive file's name; args[2] = 1)
 * lets the file be read later through a name that says nothing; a link made in a binary directory puts a
 * program there without writing one (`ln -s /tmp/x /usr/local/bin/ls` shadows ls on PATH). str1 the target,
 * str2 the link's name; a relative name of at most RENAME_DIR_AT - 1 bytes gets its directory rebuilt into
 * str2 from RENAME_DIR_AT on (args[1]: PATH_* bits), as a rename's new name. */
static __always_inline int emit_link(__u32 op, __u64 at, const char *target, long new_dfd, const char *linkpath,
                                     bool kernel)
{
    if (!is_watched())
        return 0;
    __u64 sensitive = starts_sensitive(target, kernel) || ends_sensitive(target, kernel);
    struct priv_event *e = priv_reserve(op);
    if (!e)
        return 0;
    e->args[0] = at;
    e->args[2] = sensitive;
    read_str(e->str1, sizeof(e->str1), target, kernel);
    read_new_name(e, linkpath, new_dfd, kernel);
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_symlink")
int on_symlink(struct trace_event_raw_sys_enter *ctx)
{
    return emit_link(OP_SYMLINK, 0, (const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1], false);
}

SEC("tracepoint/syscalls/sys_enter_symlinkat")
int on_symlinkat(struct trace_event_raw_sys_enter *ctx)
{
    return emit_link(OP_SYMLINK, 1, (const char *)ctx->args[0], (long)ctx->args[1], (const char *)ctx->args[2],
                     false);
}

SEC("tracepoint/syscalls/sys_enter_link")
int on_link(struct trace_event_raw_sys_enter *ctx)
{
    return emit_link(OP_LINK, 0, (const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1], false);
}

SEC("tracepoint/syscalls/sys_enter_linkat")
int on_linkat(struct trace_event_raw_sys_enter *ctx)
{
    return emit_link(OP_LINK, 1, (const char *)ctx->args[1], (long)ctx->args[2], (const char *)ctx->args[3],
                     false);
}

/* Renames, every one of the watched processes (far rarer than the writes that precede them): a file written in
 * /tmp and renamed into /usr/bin never opens there for writing, so the destination is a write of its own. str1
 * the old name, str2 the new; a relative new name of at most RENAME_DIR_AT - 1 bytes gets its directory rebuilt
 * into str2 from RENAME_DIR_AT on (args[1]: PATH_* bits, and PATH_FROM_SAME_DIR when the old name is relative to
 * that same directory). */
static __always_inline int emit_rename(__u64 call, long from_dfd, const char *from, long to_dfd, const char *to,
                                       bool kernel)
{
    struct priv_event *e = priv_reserve(OP_RENAME);
    if (!e)
        return 0;
    e->args[0] = call;
    read_str(e->str1, sizeof(e->str1), from, kernel);
    if (read_new_name(e, to, to_dfd, kernel) && (int)from_dfd == (int)to_dfd)
        e->args[1] |= PATH_FROM_SAME_DIR;
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_rename")
int on_rename(struct trace_event_raw_sys_enter *ctx)
{
    return emit_rename(0, AT_FDCWD, (const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1], false);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int on_renameat(struct trace_event_raw_sys_enter *ctx)
{
    return emit_rename(1, (long)ctx->args[0], (const char *)ctx->args[1], (long)ctx->args[2],
                       (const char *)ctx->args[3], false);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int on_renameat2(struct trace_event_raw_sys_enter *ctx)
{
    return emit_rename(2, (long)ctx->args[0], (const char *)ctx->args[1], (long)ctx->args[2],
                       (const char *)ctx->args[3], false);
}

/* A call on one path (OP_MKDIR, OP_UNLINK), every one of the watched processes: directories made (rarer than
 * the files written in them: Falco's "Mkdir binary dirs", hidden directories) and files and directories
 * removed (Falco's "remove" macro: shell history deleted, "Modify binary dirs"; logs cleared). str1 the path as
 * given; a relative one also gets its directory rebuilt into str2 (`rm -r` names what it removes relative to a
 * directory descriptor), args[1] says how (PATH_*); `arg` goes to args[2]. */
static __always_inline int emit_path_op(__u32 op, __u64 call, long dfd, const char *path, __u64 arg, bool kernel)
{
    struct priv_event *e = priv_reserve(op);
    if (!e)
        return 0;
    e->args[0] = call;
    e->args[1] = (int)dfd != AT_FDCWD ? PATH_DIRFD : 0;
    e->args[2] = arg;
    read_str(e->str1, sizeof(e->str1), path, kernel);
    if (e->str1[0] != '/') {
        long len = rebuild_dir(e->str2, dfd);
        if (len >= 0)
            e->args[1] |= PATH_DIR_REBUILT | ((__u64)len << 16);
    }
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_mkdir")
int on_mkdir(struct trace_event_raw_sys_enter *ctx)
{
    return emit_path_op(OP_MKDIR, 0, AT_FDCWD, (const char *)ctx->args[0], ctx->args[1], false);
}

SEC("tracepoint/syscalls/sys_enter_mkdirat")
int on_mkdirat(struct trace_event_raw_sys_enter *ctx)
{
    return emit_path_op(OP_MKDIR, 1, (long)ctx->args[0], (const char *)ctx->args[1], ctx->args[2], false);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int on_unlink(struct trace_event_raw_sys_enter *ctx)
{
    return emit_path_op(OP_UNLINK, 0, AT_FDCWD, (const char *)ctx->args[0], 0, false);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int on_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
    return emit_path_op(OP_UNLINK, 1, (long)ctx->args[0], (const char *)ctx->args[1], ctx->args[2], false);
}

SEC("tracepoint/syscalls/sys_enter_rmdir")
int on_rmdir(struct trace_event_raw_sys_enter *ctx)
{
    return emit_path_op(OP_UNLINK, 2, AT_FDCWD, (const char *)ctx->args[0], 0, false);
}

/* A file's content cut by ftruncate (or io_uring's): the file's path rebuilt from its dentries into str1, its
 * size before into args[1] (what there was to lose), the length asked for into args[2]. Only a cut: a file
 * grown or left as it was (databases size their files with ftruncate) loses nothing and is not reported. */
static __always_inline int emit_ftruncate(long fd, __s64 length)
{
    if (!is_watched())
        return 0; /* before the descriptor's lookup, for the call and the ring alike */
    struct task_struct *task = bpf_get_current_task_btf();
    struct file *f = file_of_fd(task, fd);
    if (!f)
        return 0;
    __s64 size = BPF_CORE_READ(f, f_inode, i_size);
    if (length >= size)
        return 0;
    struct priv_event *e = priv_reserve(OP_TRUNCATE);
    if (!e)
        return 0;
    e->args[1] = size;
    e->args[2] = length;
    __u32 len = rebuild_path(e->str1, f, task);
    e->args[0] = TRUNC_FTRUNCATE | ((__u64)len << 16);
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int on_ftruncate(struct trace_event_raw_sys_enter *ctx)
{
    return emit_ftruncate((long)ctx->args[0], (__s64)ctx->args[1]);
}

/* truncate(2): the path as given (a relative one with its directory), as for unlink; its size is not known. */
SEC("tracepoint/syscalls/sys_enter_truncate")
int on_truncate(struct trace_event_raw_sys_enter *ctx)
{
    return emit_path_op(OP_TRUNCATE, TRUNC_TRUNCATE, AT_FDCWD, (const char *)ctx->args[0], ctx->args[1], false);
}

/* Files mapped executable already reported: once per cgroup, program and file as it was (a file rewritten in
 * place changes its ctime, and is reported again), per MAPPED_EPOCH_SHIFT period of time. Every dynamically
 * linked program maps its libraries at each start; one report per program and library and period says what a
 * workload loads without one per start, while a program started again and again (a worker, a job) is still seen
 * in each time window of a learning profile (a behaviour seen in one window only would never count for a
 * workload of one container). An entry pushed out of the set only means a report again. */
#define MAPPED_EPOCH_SHIFT 39 /* 2^39 ns: 9 min 10 s, under a profile's 10-minute window */
struct mapped_key {
    __u64 cgroup_id;
    __u64 epoch;
    __u64 exe_ino;
    __u64 ino;
    __u64 ctime_ns;
    __u32 dev;
    __u32 what; /* 0: a file mapped by mmap; 0x100 | EXEC_MEM_*: memory made executable */
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct mapped_key);
    __type(value, __u8);
} mapped SEC(".maps");

#define PROT_EXEC 0x4
#define MAP_ANONYMOUS 0x20
#define VM_EXEC 0x4

/* Fills the key of a report in `mapped` — the cgroup, the period, the program file, `what` and, with a file `f`,
 * its inode as it is — and claims it: false when it was reported before. */
static __always_inline bool claim_mapped(struct mapped_key *key, struct task_struct *task, struct file *f, __u32 what)
{
    key->cgroup_id = bpf_get_current_cgroup_id();
    key->epoch = bpf_ktime_get_boot_ns() >> MAPPED_EPOCH_SHIFT;
    key->exe_ino = BPF_CORE_READ(task, mm, exe_file, f_inode, i_ino);
    key->what = what;
    if (f) {
        struct inode *ino = BPF_CORE_READ(f, f_inode);
        key->ino = BPF_CORE_READ(ino, i_ino);
        key->dev = BPF_CORE_READ(ino, i_sb, s_dev);
        __u64 mtime = 0;
        inode_times(ino, &key->ctime_ns, &mtime);
    }
    __u8 one = 1;
    return bpf_map_update_elem(&mapped, key, &one, BPF_NOEXIST) == 0;
}

/* Memory made executable that no file backs (OP_EXEC_MEMORY): an anonymous mmap with PROT_EXEC, or mprotect
 * adding PROT_EXEC to memory that was not executable. A JIT compiler's code (V8, a JVM, LLVM), a .NET or libffi
 * trampoline — and shellcode or a reflectively loaded library, which leave no file to map. Reported once per
 * cgroup, program file, kind of memory and period, in the set of `mapped` (`what` tells these entries from a
 * file's). */
static __always_inline int emit_exec_memory(__u32 call, __u64 prot, __u64 length, __u32 region, struct file *f,
                                            struct task_struct *task)
{
    struct mapped_key key = {};
    if (!claim_mapped(&key, task, f, 0x100 | region))
        return 0; /* reported before */
    struct priv_event *e = priv_reserve(OP_EXEC_MEMORY);
    if (!e) {
        bpf_map_delete_elem(&mapped, &key);
        return 0;
    }
    __u32 len = f ? rebuild_path(e->str1, f, task) : 0;
    __u64 pages = (length + 4095) >> 12;
    if (pages > 0xffffffff)
        pages = 0xffffffff;
    e->args[0] = (prot & 0xff) | ((__u64)call << 8) | ((__u64)region << 12) | ((__u64)len << 16) | (pages << 32);
    e->args[1] = key.ino;
    e->args[2] = key.ctime_ns;
    submit(e);
    return 0;
}

/* mmap with PROT_EXEC. Of a file: the loader mapping a library's code (at a program's start, or dlopen's), a
 * plug-in, a library in /tmp or a memfd (OP_MMAP_EXEC). The program file itself and its interpreter are mapped
 * by the kernel at exec (not through this call): the exec event says what runs. Anonymous: memory made
 * executable (OP_EXEC_MEMORY). */
SEC("tracepoint/syscalls/sys_enter_mmap")
int on_mmap(struct trace_event_raw_sys_enter *ctx)
{
    __u64 prot = ctx->args[2];
    __u64 flags = ctx->args[3];
    long fd = (int)ctx->args[4];
    if (!(prot & PROT_EXEC))
        return 0;
    if (!is_watched())
        return 0;
    if ((flags & MAP_ANONYMOUS) || fd < 0)
        return emit_exec_memory(EXEC_MEM_MMAP, prot, ctx->args[1], EXEC_MEM_ANON, NULL, bpf_get_current_task_btf());
    struct task_struct *task = bpf_get_current_task_btf();
    struct file *f = file_of_fd(task, fd);
    if (!f)
        return 0;
    struct mapped_key key = {};
    if (!claim_mapped(&key, task, f, 0))
        return 0; /* reported before */
    struct priv_event *e = priv_reserve(OP_MMAP_EXEC);
    if (!e) {
        bpf_map_delete_elem(&mapped, &key); /* not reported: the next mapping tries again */
        return 0;
    }
    __u64 bits = 0;
    /* A memfd never had a name (its inode has no link either): it is a memfd, not a file removed. */
    if (is_memfd(f))
        bits |= MMAP_MEMFD;
    else if (BPF_CORE_READ(f, f_inode, __i_nlink) == 0)
        bits |= MMAP_DELETED;
    __u32 len = rebuild_path(e->str1, f, task);
    e->args[0] = (prot & 0xff) | (bits << 8) | ((__u64)len << 16);
    e->args[1] = key.ino;
    e->args[2] = key.ctime_ns;
    submit(e);
    return 0;
}

/* What bpf_find_vma says of the memory an mprotect changes. */
struct vma_seen {
    __u64 file;
    __u64 start;
    __u64 end;
    __u64 flags;
};

static long vma_seen_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
    struct vma_seen *s = data;
    s->file = (__u64)BPF_CORE_READ(vma, vm_file);
    s->start = BPF_CORE_READ(vma, vm_start);
    s->end = BPF_CORE_READ(vma, vm_end);
    s->flags = BPF_CORE_READ(vma, vm_flags);
    return 0;
}

/* Shared anonymous memory (mmap of MAP_SHARED | MAP_ANONYMOUS, or of /dev/zero) is a tmpfs file the kernel names
 * "dev/zero" (shmem_zero_setup): a name no directory entry can have. */
static __always_inline bool is_shared_anonymous(struct file *f) { return file_name_starts(f, "dev/zero", 9); }

/* mprotect (and pkey_mprotect) adding PROT_EXEC to memory that was not executable: a JIT's code made runnable
 * once written (W^X), shellcode written into a buffer and made runnable, a library's code after text
 * relocations. The memory is told by the first mapping of the range (bpf_find_vma, Linux 5.17; the probe is left
 * out on older kernels): a file's (reported with its path), the stack, the heap (brk) or anonymous (shared
 * anonymous memory too). Memory that was executable already is not reported (its mapping was). */
static __always_inline int emit_mprotect(__u32 call, __u64 addr, __u64 length, __u64 prot)
{
    if (!(prot & PROT_EXEC))
        return 0;
    if (!is_watched())
        return 0;
    struct task_struct *task = bpf_get_current_task_btf();
    struct vma_seen s = {};
    __u32 region = EXEC_MEM_UNKNOWN;
    if (bpf_find_vma(task, addr, vma_seen_cb, &s, 0) == 0) {
        if (s.flags & VM_EXEC)
            return 0;
        if (s.file && is_shared_anonymous((struct file *)s.file))
            s.file = 0;
        struct mm_struct *mm = BPF_CORE_READ(task, mm);
        __u64 stack = BPF_CORE_READ(mm, start_stack);
        __u64 brk_start = BPF_CORE_READ(mm, start_brk);
        __u64 brk = BPF_CORE_READ(mm, brk);
        if (s.file)
            region = EXEC_MEM_FILE;
        else if (s.start <= stack && stack < s.end)
            region = EXEC_MEM_STACK;
        else if (s.start < brk && brk_start < s.end)
            region = EXEC_MEM_HEAP;
        else
            region = EXEC_MEM_ANON;
    }
    return emit_exec_memory(call, prot, length, region, (struct file *)s.file, task);
}

SEC("tracepoint/syscalls/sys_enter_mprotect")
int on_mprotect(struct trace_event_raw_sys_enter *ctx)
{
    return emit_mprotect(EXEC_MEM_MPROTECT, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_pkey_mprotect")
int on_pkey_mprotect(struct trace_event_raw_sys_enter *ctx)
{
    return emit_mprotect(EXEC_MEM_PKEY_MPROTECT, ctx->args[0], ctx->args[1], ctx->args[2]);
}

/* userfaultfd: a kernel exploit's way to stop the kernel mid-copy (a race made reliable); container runtimes'
 * default seccomp profiles refuse it. */
SEC("tracepoint/syscalls/sys_enter_userfaultfd")
int on_userfaultfd(struct trace_event_raw_sys_enter *ctx) { return priv_args(ctx, OP_USERFAULTFD, 1); }

#define S_ISUID 04000
#define S_ISGID 02000

static __always_inline int emit_chmod(const char *upath, __u64 mode)
{
    if (!(mode & (S_ISUID | S_ISGID)))
        return 0; /* only modes that set setuid or setgid */
    struct priv_event *e = priv_reserve(OP_CHMOD);
    if (!e)
        return 0;
    e->args[0] = mode;
    if (upath)
        bpf_probe_read_user_str(e->str1, sizeof(e->str1), upath);
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_chmod")
int on_chmod(struct trace_event_raw_sys_enter *ctx) { return emit_chmod((const char *)ctx->args[0], ctx->args[1]); }
SEC("tracepoint/syscalls/sys_enter_fchmodat")
int on_fchmodat(struct trace_event_raw_sys_enter *ctx) { return emit_chmod((const char *)ctx->args[1], ctx->args[2]); }
SEC("tracepoint/syscalls/sys_enter_fchmod")
int on_fchmod(struct trace_event_raw_sys_enter *ctx) { return emit_chmod(NULL, ctx->args[1]); }

/* Namespace-creating clones only (plain forks are not events). */
#define CLONE_NEW_MASK (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080)

SEC("tracepoint/syscalls/sys_enter_clone")
int on_clone(struct trace_event_raw_sys_enter *ctx)
{
    __u64 flags = ctx->args[0];
    if (!(flags & CLONE_NEW_MASK))
        return 0;
    struct priv_event *e = priv_reserve(OP_CLONE);
    if (!e)
        return 0;
    e->args[0] = flags;
    e->args[1] = current_cap_permitted();
    submit(e);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_clone3")
int on_clone3(struct trace_event_raw_sys_enter *ctx)
{
    struct clone_args ca = {};
    bpf_probe_read_user(&ca, sizeof(ca.flags), (void *)ctx->args[0]);
    if (!(ca.flags & CLONE_NEW_MASK))
        return 0;
    struct priv_event *e = priv_reserve(OP_CLONE);
    if (!e)
        return 0;
    e->args[0] = ca.flags;
    e->args[1] = current_cap_permitted();
    submit(e);
    return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
    if (child->pid != child->tgid || !is_watched())
        return 0;
    struct fork_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    fill_header(&e->h, KIND_FORK);
    e->child_pid = child->tgid;
    e->parent_pid = parent->tgid;
    submit(e);
    return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(on_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
    /* Only the v2 (default) hierarchy: its id is 0, v1 hierarchies count from 1. */
    if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
        return 0;
    struct cgroup_event *e = reserve(sizeof(*e));
    if (!e)
        return 0;
    fill_header(&e->h, KIND_CGROUP);
    e->id = BPF_CORE_READ(cgrp, kn, id);
    bpf_probe_read_kernel_str(e->path, sizeof(e->path), path);
    submit(e);
    return 0;
}

/* A send's buffer is a registered one (sqe->ioprio; uapi's io_uring.h, not in BTF). */
#define IORING_RECVSEND_FIXED_BUF (1U << 2)

/* Requests submitted to io_uring never enter the system calls above: a program can read /etc/shadow, link
 * to it, bind, listen or connect out through a ring without one system call the tracepoints see. The request
 * is prepared (paths copied into the kernel, a connect's address pointer and descriptor taken) before this
 * fires, in the submitting task (or its SQPOLL thread, in the same cgroup and address space). */
SEC("tracepoint/io_uring/io_uring_submit_req")
int on_io_uring_submit(struct trace_event_raw_io_uring_submit_req *ctx)
{
    __u8 op = ctx->opcode;
    struct io_kiocb *req = ctx->req;
    /* CO-RE guards: a kernel without a request's `cmd` (before 6.0 — its tracepoint was then named otherwise
     * and this program is not loaded at all) or without an operation's type (bind and listen came in 6.11)
     * gets that branch removed at load instead of a program the verifier refuses. */
    if (!bpf_core_field_exists(req->cmd))
        return 0;
    if ((op == IORING_OP_OPENAT || op == IORING_OP_OPENAT2) && bpf_core_type_exists(struct io_open)) {
        struct io_open *o = (struct io_open *)&req->cmd;
        struct filename *name = BPF_CORE_READ(o, filename);
        if (!name)
            return 0;
        const char *path = BPF_CORE_READ(name, name);
        return emit_open(BPF_CORE_READ(o, dfd), path, (__u32)BPF_CORE_READ(o, how.flags), true);
    }
    /* A registered ("fixed") file's number is no descriptor: a connect's socket kind is then left unknown. */
    long fd = (ctx->flags & REQ_F_FIXED_FILE) ? -1 : BPF_CORE_READ(req, cqe.fd);
    if (op == IORING_OP_CONNECT && bpf_core_type_exists(struct io_connect)) {
        struct io_connect *c = (struct io_connect *)&req->cmd;
        return emit_sockaddr(KIND_CONNECT, fd, BPF_CORE_READ(c, addr), false);
    }
    if (op == IORING_OP_BIND && bpf_core_type_exists(struct io_bind) && bpf_core_field_exists(req->async_data)) {
        /* Preparing the request copied the address into its async data: a bare sockaddr_storage on recent
         * kernels (6.18), the `addr` of an io_async_msghdr on the first ones with IORING_OP_BIND (6.11). The
         * latter starts with a pointer (8-aligned or NULL), so a family (1, 2, 10) at offset 0 is the former. */
        void *io = BPF_CORE_READ(req, async_data);
        if (!io)
            return 0;
        __u16 family = 0;
        bpf_probe_read_kernel(&family, sizeof(family), io);
        const void *addr = io;
        if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) {
            if (!bpf_core_type_exists(struct io_async_msghdr))
                return 0;
            addr = __builtin_preserve_access_index(&((struct io_async_msghdr *)io)->addr);
        }
        return emit_sockaddr(KIND_BIND, fd, addr, true);
    }
    if ((op == IORING_OP_SYMLINKAT || op == IORING_OP_LINKAT) && bpf_core_type_exists(struct io_link)) {
        /* Links, as symlinkat(2)/linkat(2): both names are the kernel's copies. */
        struct io_link *l = (struct io_link *)&req->cmd;
        struct filename *target = BPF_CORE_READ(l, oldpath), *path = BPF_CORE_READ(l, newpath);
        if (!target || !path)
            return 0;
        return emit_link(op == IORING_OP_SYMLINKAT ? OP_SYMLINK : OP_LINK, 1, BPF_CORE_READ(target, name),
                         BPF_CORE_READ(l, new_dfd), BPF_CORE_READ(path, name), true);
    }
    if (op == IORING_OP_RENAMEAT && bpf_core_type_exists(struct io_rename)) {
        struct io_rename *r = (struct io_rename *)&req->cmd;
        struct filename *from = BPF_CORE_READ(r, oldpath), *to = BPF_CORE_READ(r, newpath);
        if (!from || !to)
            return 0;
        return emit_rename(2, BPF_CORE_READ(r, old_dfd), BPF_CORE_READ(from, name), BPF_CORE_READ(r, new_dfd),
                           BPF_CORE_READ(to, name), true);
    }
    if (op == IORING_OP_MKDIRAT && bpf_core_type_exists(struct io_mkdir)) {
        struct io_mkdir *m = (struct io_mkdir *)&req->cmd;
        struct filename *path = BPF_CORE_READ(m, filename);
        if (!path)
            return 0;
        return emit_path_op(OP_MKDIR, 1, BPF_CORE_READ(m, dfd), BPF_CORE_READ(path, name), BPF_CORE_READ(m, mode),
                            true);
    }
    if (op == IORING_OP_UNLINKAT && bpf_core_type_exists(struct io_unlink)) {
        struct io_unlink *u = (struct io_unlink *)&req->cmd;
        struct filename *path = BPF_CORE_READ(u, filename);
        if (!path)
            return 0;
        return emit_path_op(OP_UNLINK, 1, BPF_CORE_READ(u, dfd), BPF_CORE_READ(path, name), BPF_CORE_READ(u, flags),
                            true);
    }
    if (op == IORING_OP_FTRUNCATE && fd >= 0 && bpf_core_type_exists(struct io_ftrunc)) {
        struct io_ftrunc *t = (struct io_ftrunc *)&req->cmd;
        return emit_ftruncate(fd, BPF_CORE_READ(t, len));
    }
    if (op == IORING_OP_SOCKET && bpf_core_type_exists(struct io_socket)) {
        struct io_socket *so = (struct io_socket *)&req->cmd;
        return emit_socket(BPF_CORE_READ(so, domain), BPF_CORE_READ(so, type), BPF_CORE_READ(so, protocol));
    }
    if ((op == IORING_OP_SENDMSG || op == IORING_OP_SEND || op == IORING_OP_SENDMSG_ZC || op == IORING_OP_SEND_ZC) &&
        bpf_core_type_exists(struct io_async_msghdr) && bpf_core_type_exists(struct io_sr_msg) &&
        bpf_core_field_exists(req->async_data)) {
        /* Preparing a send copied its destination, if it has one (a sendmsg's msg_name, a send's addr2), into
         * the async data and pointed the kernel msghdr's msg_name at it (6.10 on; before, the copy could wait
         * for the send itself and msg_name is NULL here: not seen). */
        struct io_async_msghdr *io = BPF_CORE_READ(req, async_data);
        if (!io)
            return 0;
        const void *name = BPF_CORE_READ(io, msg.msg_name);
        struct io_sr_msg *sr = (struct io_sr_msg *)&req->cmd;
        bool send = op == IORING_OP_SEND || op == IORING_OP_SEND_ZC;
        emit_send(send ? SEND_SENDTO : SEND_SENDMSG, fd, name, BPF_CORE_READ(sr, msg_flags), true);
        /* A DNS question through the ring, to port 53 or on a socket marked: a send's buffer (not a registered
         * one's: its address is an offset), a sendmsg's first iovecs, read from the user's msghdr. */
        if (fd < 0)
            return 0;
        if (!send)
            return emit_dns_msg(fd, BPF_CORE_READ(sr, umsg));
        if (BPF_CORE_READ(sr, flags) & IORING_RECVSEND_FIXED_BUF)
            return 0;
        return emit_dns(fd, name, true, BPF_CORE_READ(sr, buf), BPF_CORE_READ(sr, len), 0, 0);
    }
    /* Writes through the ring on a socket marked for DNS (a connect to port 53, by the ring or not): as write(2) and
     * writev(2) above. Other writes cost the map lookup. */
    if ((op == IORING_OP_WRITE || op == IORING_OP_WRITEV) && fd >= 0 && bpf_core_type_exists(struct io_rw)) {
        struct io_rw *rw = (struct io_rw *)&req->cmd;
        const void *addr = (const void *)BPF_CORE_READ(rw, addr);
        __u64 len = BPF_CORE_READ(rw, len);
        if (op == IORING_OP_WRITE)
            return emit_dns(fd, 0, false, addr, len, 0, 0);
        return emit_dns_iov(fd, addr, len);
    }
    if (op == IORING_OP_LISTEN && bpf_core_type_exists(struct io_listen)) {
        /* The accepts that follow are seen from TCP's state machine, as for listen(2). */
        struct io_listen *l = (struct io_listen *)&req->cmd;
        return emit_listen((__u32)fd, (__u32)BPF_CORE_READ(l, backlog));
    }
    return 0;
}
