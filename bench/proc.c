/* proc.c — the driver's plumbing: clocks, the real binaries as child
 * processes (spawned, readied by a ping, stopped by pid), /proc readings,
 * percentiles and the results table. Knows no bench. */
#include "bench.h"

#include "hotline/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* ---- clocks ---------------------------------------------------------------- */

int64_t bn_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double bn_sec(void)
{
    return (double)bn_ns() / 1e9;
}

void bn_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- children ---------------------------------------------------------------- */

static pid_t s_children[64];
static int s_nchildren;

static void s_kill_children(void)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0) {
            kill(s_children[i], SIGKILL);
            waitpid(s_children[i], NULL, 0);
        }
}

int bn_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        hl_fatal("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

pid_t bn_spawn(const char *log, const char *const argv[])
{
    static int registered;
    if (!registered) {
        atexit(s_kill_children);
        registered = 1;
    }
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] <= 0) {
            s_children[i] = pid;
            return pid;
        }
    if (s_nchildren < (int)HL_ARRAY_LEN(s_children)) s_children[s_nchildren++] = pid;
    return pid;
}

static void s_forget(pid_t pid)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] == pid) s_children[i] = 0;
}

int bn_stop(pid_t pid, int ms)
{
    if (pid <= 0) return -1;
    kill(pid, SIGTERM);
    int64_t end = bn_ns() + (int64_t)ms * 1000000;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0) {
            s_forget(pid);
            return -1;
        }
        if (bn_ns() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            s_forget(pid);
            return -1;
        }
        bn_sleep_ms(5);
    }
    s_forget(pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

double bn_cpu_sec(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command may hold spaces: fields count from the last ')' */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long utime = 0, stime = 0;
    /* after ")": state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double bn_main_cpu_sec(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    unsigned long long ns = 0;
    int ok = fscanf(f, "%llu", &ns) == 1;
    fclose(f);
    return ok ? (double)ns / 1e9 : -1;
}

static long s_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

long bn_rss_kb(pid_t pid)
{
    return s_status_kb(pid, "VmRSS");
}

long bn_hwm_kb(pid_t pid)
{
    return s_status_kb(pid, "VmHWM");
}

const char *bn_path(const bn_opts *o, const char *name)
{
    static char slots[8][1024];
    static int next;
    char *p = slots[next++ % 8];
    snprintf(p, 1024, "%s/%s", o->dir, name);
    return p;
}

void bn_rm_db(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", ".lock", "-journal"};
    for (size_t i = 0; i < HL_ARRAY_LEN(sfx); i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

/* Wait for a reply to a ping on a fresh DEALER; 0 when one came. */
static int s_ping(void *ctx, const char *front, int timeout_ms)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, front);
    const char *req = "{\"v\":1,\"id\":\"p\",\"op\":\"ping\"}";
    zmq_send(s, req, strlen(req), 0);
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, timeout_ms) > 0 ? 0 : -1;
    zmq_close(s);
    return rc;
}

int bn_disp_start(bn_disp *d, const bn_opts *o, const char *db, const char *tag)
{
    memset(d, 0, sizeof *d);
    snprintf(d->front, sizeof d->front, "tcp://127.0.0.1:%d", bn_free_port());
    snprintf(d->events, sizeof d->events, "tcp://127.0.0.1:%d", bn_free_port());
    hl_strlcpy(d->db, db, sizeof d->db);
    snprintf(d->log, sizeof d->log, "%s/dispatcher-%s.log", o->dir, tag);
    char exe[1024];
    snprintf(exe, sizeof exe, "%s/hotline-dispatcher", o->bin);
    /* the HTTP server is off: the benches measure the ZeroMQ front */
    const char *args[] = {exe,      "-c",       o->config, "--db",   db, "--front",
                          d->front, "--events", d->events, "--http", "-", NULL};
    /* BENCH_WRAP="valgrind --tool=callgrind" runs the dispatcher under a tool */
    const char *argv[32];
    int na = 0;
    char wrap[512];
    const char *w = getenv("BENCH_WRAP");
    hl_strlcpy(wrap, w ? w : "", sizeof wrap);
    for (char *save = NULL, *tok = strtok_r(wrap, " ", &save); tok && na < 20;
         tok = strtok_r(NULL, " ", &save))
        argv[na++] = tok;
    for (int i = 0; args[i]; i++) argv[na++] = args[i];
    argv[na] = NULL;
    void *ctx = zmq_ctx_new();
    double t0 = bn_sec();
    d->pid = bn_spawn(d->log, argv);
    if (d->pid < 0) {
        fprintf(stderr, "bench: cannot start %s\n", exe);
        zmq_ctx_term(ctx);
        return -1;
    }
    /* any reply counts, even forbidden: the dispatcher answers only once
     * its database is open and its sockets bound */
    int ok = -1;
    while (bn_sec() - t0 < 60) {
        if (s_ping(ctx, d->front, 20) == 0) {
            ok = 0;
            break;
        }
        if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
            s_forget(d->pid);
            d->pid = 0;
            break;
        }
    }
    d->ready_sec = bn_sec() - t0;
    zmq_ctx_term(ctx);
    if (ok != 0) {
        fprintf(stderr, "bench: the dispatcher did not answer (see %s)\n", d->log);
        if (d->pid > 0) bn_stop(d->pid, 1000);
        d->pid = 0;
    }
    const char *perf = getenv("BENCH_PERF");
    if (ok == 0 && perf && *perf == '1') {
        char pid[32], out[1024], plog[1024];
        snprintf(pid, sizeof pid, "%d", (int)d->pid);
        snprintf(out, sizeof out, "%s/perf-%s.data", o->dir, tag);
        snprintf(plog, sizeof plog, "%s/perf-%s.log", o->dir, tag);
        const char *pargv[] = {"/usr/bin/perf", "record", "-e", "cpu-clock", "--call-graph", "dwarf,16384", "-F", "2000", "-p", pid,
                               "-o", out, NULL};
        d->perf = bn_spawn(plog, pargv);
        bn_sleep_ms(500); /* perf is attached */
    }
    return ok;
}

int bn_disp_stop(bn_disp *d)
{
    if (d->perf > 0) {
        kill(d->perf, SIGINT);
        bn_stop(d->perf, 30000);
        d->perf = 0;
    }
    int rc = bn_stop(d->pid, 30000);
    d->pid = 0;
    return rc;
}

pid_t bn_worker_start(const bn_opts *o, const bn_disp *d, const char *unit, const char *policy)
{
    char exe[1024], db[1024], log[1024];
    snprintf(exe, sizeof exe, "%s/hotline-worker", o->bin);
    snprintf(db, sizeof db, "%s/worker-%s.db", o->dir, unit);
    snprintf(log, sizeof log, "%s/worker-%s.log", o->dir, unit);
    bn_rm_db(db);
    const char *args[] = {exe, "--unit", unit, "--connect", d->front, "--db", db, "--auto",
                          policy, NULL};
    /* BENCH_WRAP_WORKER="valgrind --tool=callgrind ..." runs the first
     * worker of each bench under that command (profiling) */
    static const bn_disp *wrapped;
    const char *argv[32];
    int na = 0;
    char wrap[512];
    const char *w = getenv("BENCH_WRAP_WORKER");
    hl_strlcpy(wrap, w && wrapped != d ? w : "", sizeof wrap);
    if (w) wrapped = d;
    for (char *save = NULL, *tok = strtok_r(wrap, " ", &save); tok && na < 20;
         tok = strtok_r(NULL, " ", &save))
        argv[na++] = tok;
    for (int i = 0; args[i]; i++) argv[na++] = args[i];
    argv[na] = NULL;
    return bn_spawn(log, argv);
}

/* ---- samples --------------------------------------------------------------------- */

void bn_samples_add(bn_samples *s, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = hl_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = v;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bn_pct(bn_samples *s, double p)
{
    if (!s->n) return NAN;
    qsort(s->v, s->n, sizeof *s->v, s_cmp);
    size_t rank = (size_t)ceil(p / 100.0 * (double)s->n);
    if (rank < 1) rank = 1;
    if (rank > s->n) rank = s->n;
    return s->v[rank - 1];
}

void bn_samples_free(bn_samples *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- the table ----------------------------------------------------------------------- */

typedef struct row {
    char bench[8], what[64], figure[48], limit[64], ratio[24], target[40];
    int met;
} row;

static row s_rows[64];
static int s_nrows;

void bn_row(const char *bench, const char *what, const char *figure, const char *limit,
            const char *ratio, const char *target, int met)
{
    if (s_nrows == (int)HL_ARRAY_LEN(s_rows)) return;
    row *r = &s_rows[s_nrows++];
    hl_strlcpy(r->bench, bench, sizeof r->bench);
    hl_strlcpy(r->what, what, sizeof r->what);
    hl_strlcpy(r->figure, figure, sizeof r->figure);
    hl_strlcpy(r->limit, limit ? limit : "-", sizeof r->limit);
    hl_strlcpy(r->ratio, ratio ? ratio : "-", sizeof r->ratio);
    hl_strlcpy(r->target, target ? target : "-", sizeof r->target);
    r->met = met;
    /* each row also goes to stderr as it is measured */
    fprintf(stderr, "bench: %s %s: %s (limit %s, ratio %s; target %s)\n", bench, what, figure,
            r->limit, r->ratio, r->target);
}

static int s_failed;

void bn_row_failed(const char *bench, const char *why)
{
    s_failed++;
    bn_row(bench, why, "failed", "-", "-", "-", BN_NOT_MET);
}

int bn_failures(void)
{
    return s_failed;
}

void bn_table_print(void)
{
    printf("%-3s  %-41s  %-18s  %-36s  %-7s  %-23s  %s\n", "", "figure", "measured",
           "limit (same run)", "ratio", "target", "met");
    for (int i = 0; i < s_nrows; i++) {
        row *r = &s_rows[i];
        printf("%-3s  %-41s  %-18s  %-36s  %-7s  %-23s  %s\n", r->bench, r->what, r->figure,
               r->limit, r->ratio, r->target,
               r->met == BN_MET ? "met" : r->met == BN_NOT_MET ? "NOT MET" : "-");
    }
    fflush(stdout);
}

static char *s_fmt_slot(void)
{
    static char slots[16][96];
    static int next;
    return slots[next++ % 16];
}

const char *bn_fmt(const char *fmt, ...)
{
    char *p = s_fmt_slot();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, 96, fmt, ap);
    va_end(ap);
    return p;
}

const char *bn_fmt_rate(double v)
{
    char *p = s_fmt_slot();
    if (!isfinite(v)) {
        snprintf(p, 96, "-");
        return p;
    }
    long long n = llround(v);
    if (n >= 1000000)
        snprintf(p, 96, "%lld,%03lld,%03lld/s", n / 1000000, n / 1000 % 1000, n % 1000);
    else if (n >= 1000)
        snprintf(p, 96, "%lld,%03lld/s", n / 1000, n % 1000);
    else
        snprintf(p, 96, "%lld/s", n);
    return p;
}

const char *bn_fmt_ms(double ms)
{
    char *p = s_fmt_slot();
    if (!isfinite(ms))
        snprintf(p, 96, "-");
    else if (ms >= 1000)
        snprintf(p, 96, "%.2f s", ms / 1000);
    else if (ms >= 10)
        snprintf(p, 96, "%.1f ms", ms);
    else
        snprintf(p, 96, "%.2f ms", ms);
    return p;
}

int bn_town_cells(const hl_config *cfg, const char **cells, const char **towns, int max)
{
    int n = 0;
    for (int u = 0; u < cfg->nunits && n < max; u++) {
        if (cfg->units[u].level != HL_LEVEL_TOWN) continue;
        for (int c = 0; c < cfg->ncells; c++)
            if (cfg->units[cfg->cells[c].unit].town == u) {
                cells[n] = cfg->cells[c].id;
                towns[n] = cfg->units[u].id;
                n++;
                break;
            }
    }
    return n;
}
