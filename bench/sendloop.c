/* N datagrams on one UDP socket to a socket of its own on 127.0.0.1 that never reads (its queue fills, the
 * kernel drops the rest: no ICMP errors, no reader's cost), either with send() on the connected socket (no address:
 * what the sensor's send probes pass over) or with sendto() and the address each time (the probes read the
 * address and find the peer in their per-process map: reported once). Prints ns per call.
 *   sendloop N send|sendto */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sendloop N send|sendto\n");
        return 2;
    }
    long n = atol(argv[1]);
    int with_addr = strcmp(argv[2], "sendto") == 0;
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
    if (fd < 0 || (!with_addr && connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)) {
        perror("socket");
        return 1;
    }
    char b = 'x';
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        if (with_addr)
            sendto(fd, &b, 1, 0, (struct sockaddr *)&to, sizeof(to));
        else
            send(fd, &b, 1, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &z);
    printf("%.1f\n", ((z.tv_sec - a.tv_sec) * 1e9 + (z.tv_nsec - a.tv_nsec)) / n);
    return 0;
}
