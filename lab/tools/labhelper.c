/* The lab's helper, for what busybox cannot do (built static, copied into each lab container):
 *   labhelper ptrace PID      attach to PID with ptrace, read one word of its memory, detach
 *   labhelper setuid0         ask to become root: setuid(0), setresuid(0,0,0), setgid(0), then a capset
 *                             raising every capability (what an exploit's last step looks like)
 *   labhelper userns          unshare a user namespace (the usual first step of a kernel exploit)
 * Each attempt's result is printed; failing is expected and fine, the attempt is what the sensor sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

static void report(const char *what, long r)
{
    printf("%s: %s\n", what, r < 0 ? strerror(errno) : "ok");
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "ptrace") == 0) {
        pid_t pid = atoi(argv[2]);
        long r = ptrace(PTRACE_ATTACH, pid, 0, 0);
        report("ptrace attach", r);
        if (r == 0) {
            waitpid(pid, 0, 0);
            errno = 0;
            long word = ptrace(PTRACE_PEEKDATA, pid, (void *)0x400000, 0);
            report("ptrace peek", errno ? -1 : word);
            report("ptrace detach", ptrace(PTRACE_DETACH, pid, 0, 0));
        }
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "setuid0") == 0) {
        report("setuid(0)", setuid(0));
        report("setresuid(0,0,0)", setresuid(0, 0, 0));
        report("setgid(0)", setgid(0));
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        memset(d, 0xff, sizeof(d));
        report("capset(all)", syscall(SYS_capset, &h, d));
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "userns") == 0) {
        report("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
        return 0;
    }
    fprintf(stderr, "usage: labhelper ptrace PID | setuid0 | userns\n");
    return 2;
}
