/* N calls of one kind, timed; prints ns per call. What the sensor's probes on those calls cost a watched process:
 *   send     1-byte datagrams by send() on a connected UDP socket (no address: the send probes return after one
 *            comparison) to a socket of its own on 127.0.0.1 that never reads (its queue fills, the kernel drops
 *            the rest: no ICMP errors, no reader's cost)
 *   sendto   the same by sendto() with the address each time (the probes read the address and find the peer in
 *            their per-process map: reported once per 10 s)
 *   write    write() of a byte to /dev/null (the DNS probe on write looks the descriptor up in its map of sockets
 *            connected to port 53, and finds nothing)
 *   writev   writev() of two 1-byte buffers to /dev/null (the DNS probe on writev reads the first iovec, then the
 *            same lookup, a miss)
 *   dns      a 34-byte DNS question (A for kestrel.example.org) by send() on a UDP socket connected to port 53 of
 *            127.53.0.2, to a socket there that never reads: every one reported (the map hit, the socket checked, a
 *            record reserved, the datagram copied), one event each
 *   dup2-std dup2(file, 1), a shell's `> file` (the dup probe's worst silent case: descriptor 1 returned, its file
 *            looked up and found not to be a socket)
 *   dup2-hi  dup2(file, 10) (any descriptor above 2: one comparison)
 *   fcntl    fcntl(fd, F_GETFL) (a command other than F_DUPFD: one comparison)
 *   mkdir    mkdir() then rmdir() of one directory (every mkdir and every removal of a watched process is
 *            reported: two events): ns per pair
 *   unlink   mknod() of a regular file (not traced: no open) then unlink() of it (reported): ns per pair
 *   unlink-rel  the same by a name relative to the working directory (/tmp): the sensor rebuilds that directory
 *            from its dentries for the event
 *   ftruncate  pwrite() of a byte into a file in /tmp, then ftruncate() of it to 0 (every ftruncate that makes a
 *            file shorter is reported, its path rebuilt from the file's dentries): ns per pair
 *   ftruncate-noop  ftruncate() of an empty file to 0 (loses nothing: the probe looks and reports nothing)
 *   mmap-anon  mmap() of an anonymous page, then munmap() (not executable: the mmap probe returns after one
 *            comparison): ns per pair
 *   mmap-exec  mmap() of this program's own file with PROT_EXEC, then munmap(): a library's code mapped again and
 *            again (reported once: then the probe looks the file up, reads its inode and finds it reported): ns per
 *            pair
 *   mprotect  mprotect() of an anonymous page to read-only, then back to read-write (no PROT_EXEC: the mprotect
 *            probe returns after one comparison): ns per pair
 *   mprotect-jit  a JIT's cycle: mprotect() of an anonymous page to read-write, then to read-execute (the second
 *            reported once: then the probe looks the mapping up with bpf_find_vma, finds it anonymous and
 *            reported): ns per pair
 *   callloop N MODE */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: callloop N send|sendto|write|writev|dns|dup2-std|dup2-hi|fcntl|mkdir|unlink|unlink-rel|ftruncate|ftruncate-noop|mmap-anon|mmap-exec|mprotect|mprotect-jit\n");
        return 2;
    }
    long n = atol(argv[1]);
    const char *mode = argv[2];
    struct sockaddr_in to = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    socklen_t len = sizeof(to);
    int sink = socket(AF_INET, SOCK_DGRAM, 0);
    if (sink < 0 || bind(sink, (struct sockaddr *)&to, sizeof(to)) < 0 ||
        getsockname(sink, (struct sockaddr *)&to, &len) < 0) {
        perror("sink");
        return 1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || (!strcmp(mode, "send") && connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)) {
        perror("socket");
        return 1;
    }
    int dns = -1;
    static const char question[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                                   "\x07kestrel\x07example\x03org\x00\x00\x01\x00\x01";
    if (!strcmp(mode, "dns")) {
        struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(53)};
        inet_pton(AF_INET, "127.53.0.2", &server.sin_addr);
        int listener = socket(AF_INET, SOCK_DGRAM, 0);
        dns = socket(AF_INET, SOCK_DGRAM, 0);
        if (listener < 0 || bind(listener, (struct sockaddr *)&server, sizeof(server)) < 0 || dns < 0 ||
            connect(dns, (struct sockaddr *)&server, sizeof(server)) < 0) {
            perror("127.53.0.2:53");
            return 1;
        }
    }
    int file = open("/dev/null", O_WRONLY), out = dup(1);
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/kestrel-callloop-%d", (int)getpid());
    if (!strcmp(mode, "unlink-rel")) {
        snprintf(dir, sizeof(dir), "kestrel-callloop-%d", (int)getpid());
        if (chdir("/tmp") < 0) {
            perror("/tmp");
            return 1;
        }
    }
    int cut = -1;
    if (!strncmp(mode, "ftruncate", 9) && (cut = open(dir, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0) {
        perror(dir);
        return 1;
    }
    int code = open(argv[0], O_RDONLY);
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char b = 'x';
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        if (!strcmp(mode, "send"))
            send(fd, &b, 1, 0);
        else if (!strcmp(mode, "sendto"))
            sendto(fd, &b, 1, 0, (struct sockaddr *)&to, sizeof(to));
        else if (!strcmp(mode, "write"))
            write(file, &b, 1);
        else if (!strcmp(mode, "writev")) {
            struct iovec two[2] = {{&b, 1}, {&b, 1}};
            writev(file, two, 2);
        }
        else if (!strcmp(mode, "dns"))
            send(dns, question, sizeof(question) - 1, 0);
        else if (!strcmp(mode, "dup2-std"))
            dup2(file, 1);
        else if (!strcmp(mode, "dup2-hi"))
            dup2(file, 10);
        else if (!strcmp(mode, "fcntl"))
            fcntl(fd, F_GETFL);
        else if (!strcmp(mode, "mkdir")) {
            mkdir(dir, 0700);
            rmdir(dir);
        } else if (!strcmp(mode, "unlink") || !strcmp(mode, "unlink-rel")) {
            mknod(dir, S_IFREG | 0600, 0);
            unlink(dir);
        } else if (!strcmp(mode, "ftruncate")) {
            pwrite(cut, &b, 1, 0);
            ftruncate(cut, 0);
        } else if (!strcmp(mode, "ftruncate-noop")) {
            ftruncate(cut, 0);
        } else if (!strcmp(mode, "mmap-anon")) {
            munmap(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 4096);
        } else if (!strcmp(mode, "mmap-exec")) {
            void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, code, 0);
            if (m == MAP_FAILED) {
                perror("mmap");
                return 1;
            }
            munmap(m, 4096);
        } else if (!strcmp(mode, "mprotect")) {
            mprotect(page, 4096, PROT_READ);
            mprotect(page, 4096, PROT_READ | PROT_WRITE);
        } else if (!strcmp(mode, "mprotect-jit")) {
            mprotect(page, 4096, PROT_READ | PROT_WRITE);
            mprotect(page, 4096, PROT_READ | PROT_EXEC);
        } else {
            fprintf(stderr, "unknown mode %s\n", mode);
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &z);
    if (cut >= 0)
        unlink(dir);
    dup2(out, 1);
    printf("%.1f\n", ((z.tv_sec - a.tv_sec) * 1e9 + (z.tv_nsec - a.tv_nsec)) / n);
    return 0;
}
