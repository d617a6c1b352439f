/* An in-memory implant as a loader puts one into a process (lab scenario app-memory-implant): a shared library whose
 * constructor starts a thread, named like a kernel worker, that waits for orders. It starts no program, opens no
 * file and makes no connection while it waits: what gives it away is only that its code was mapped into the
 * process — from a memfd, a file on no disk. Built on the host by lab/lib.sh (lab_implant). */
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

static void *wait_for_orders(void *arg) {
    (void)arg;
    prctl(PR_SET_NAME, "kworker/0:2", 0, 0, 0);
    for (;;)
        sleep(3600);
    return 0;
}

__attribute__((constructor)) static void start(void) {
    pthread_t t;
    if (pthread_create(&t, 0, wait_for_orders, 0) == 0)
        pthread_detach(t);
}
