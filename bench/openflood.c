/* An event flood at a set rate: RATE times a second for SECONDS seconds, paced in 1 ms slices, it does
 * something the sensor reports, and prints the rate it reached (RATE 0: as fast as it can).
 * FILE names a file to open for writing (an `open` event, ~3 us of kernel work each); FILE "-" calls
 * listen(-1) instead (a `listen` event the kernel rejects at once: the cheapest event to cause, so that
 * the flood measures the sensor rather than the file system). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: openflood FILE RATE SECONDS\n");
        return 2;
    }
    const char *path = argv[1];
    double rate = atof(argv[2]), seconds = atof(argv[3]);
    int listen_only = strcmp(path, "-") == 0;
    double start = now(), end = start + seconds;
    long done = 0;
    for (double t = start; t < end; t = now()) {
        long due = rate > 0 ? (long)((t - start) * rate) : done + 1000;
        for (; done < due; done++) {
            if (listen_only) {
                listen(-1, 0);
                continue;
            }
            int fd = open(path, O_WRONLY | O_CREAT, 0600);
            if (fd >= 0)
                close(fd);
        }
        if (rate > 0)
            usleep(1000);
    }
    printf("%.0f\n", done / (now() - start));
    return 0;
}
