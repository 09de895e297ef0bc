/* harness.c — processes, sockets and waits for the integration tests.
 * Everything here is synchronous and bounded by a deadline. */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static void *s_ctx;
static char s_dir[512];
static char s_name[128] = "test";
static pid_t s_children[256];
static int s_nchildren;
static char s_root[512];
/* Open ZeroMQ sockets: a failed test leaves its clients open, and
 * zmq_ctx_term would wait for them forever. */
static void *s_socks[1024];
static int s_nsocks;

static void s_sock_track(void *sock)
{
    for (int i = 0; i < s_nsocks; i++)
        if (!s_socks[i]) {
            s_socks[i] = sock;
            return;
        }
    if (s_nsocks < (int)(sizeof s_socks / sizeof s_socks[0])) s_socks[s_nsocks++] = sock;
}

static void s_sock_close(void *sock)
{
    for (int i = 0; i < s_nsocks; i++)
        if (s_socks[i] == sock) s_socks[i] = NULL;
    zmq_close(sock);
}

static void *s_zctx(void)
{
    if (!s_ctx) s_ctx = zmq_ctx_new();
    return s_ctx;
}

int64_t th_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void th_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- valgrind ------------------------------------------------------------- */

int th_valgrind(void)
{
    const char *v = getenv("HOTLINE_VALGRIND");
    return v && *v && strcmp(v, "0") != 0;
}

int th_slow(int ms)
{
    return th_valgrind() ? ms * 5 : ms;
}

static const char *s_srcroot(void);

/* Under HOTLINE_VALGRIND, a hotline-* program runs under memcheck with its
 * report in th_dir()/valgrind-<program>-<pid>.log: argv is rewritten into
 * out (which must hold 16 more slots). Returns the argv to exec. */
static const char *const *s_wrap(const char *const argv[], const char **out, size_t cap)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (!th_valgrind() || strncmp(base, "hotline", 7) != 0) return argv;
    static char logopt[1200], supp[1200];
    snprintf(logopt, sizeof logopt, "--log-file=%s/valgrind-%s-%%p.log", th_dir(), base);
    snprintf(supp, sizeof supp, "--suppressions=%s/tests/valgrind.supp", s_srcroot());
    size_t n = 0;
    out[n++] = "valgrind";
    out[n++] = "--leak-check=full";
    out[n++] = "--show-leak-kinds=definite,indirect";
    out[n++] = "--errors-for-leak-kinds=definite,indirect";
    out[n++] = "--error-exitcode=99";
    out[n++] = "--num-callers=30";
    out[n++] = supp;
    out[n++] = logopt;
    for (size_t i = 0; argv[i] && n < cap - 1; i++)
        out[n++] = argv[i];
    out[n] = NULL;
    return out;
}

/* exec argv (wrapped for valgrind when asked); only returns on failure. */
static void s_exec(const char *const argv[])
{
    const char *wrapped[300];
    const char *const *a = s_wrap(argv, wrapped, sizeof wrapped / sizeof wrapped[0]);
    if (a == argv)
        execv(a[0], (char *const *)a);
    else
        execvp(a[0], (char *const *)a);
}

/* Every valgrind report of this test process must be clean. Reports of
 * processes that were killed (SIGKILL) end without a summary and say
 * nothing; the others must show no error and no leak. Prints TAP; returns
 * the number of unclean reports. */
static int s_valgrind_reports(void)
{
    DIR *dir = opendir(th_dir());
    if (!dir) return 0;
    int bad = 0, clean = 0, cut = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, "valgrind-", 9) != 0) continue;
        char *text = th_read(th_path(e->d_name));
        if (!text) continue;
        if (!strstr(text, "ERROR SUMMARY:")) {
            cut++;
        } else if (!strstr(text, "ERROR SUMMARY: 0 errors") ||
                   (strstr(text, "definitely lost: ") &&
                    !strstr(text, "definitely lost: 0 bytes"))) {
            bad++;
            printf("not ok - valgrind: %s/%s is not clean\n", th_dir(), e->d_name);
            const char *line = text;
            int shown = 0;
            while (*line && shown < 40) {
                const char *nl = strchr(line, '\n');
                int len = nl ? (int)(nl - line) : (int)strlen(line);
                printf("#   %.*s\n", len, line);
                shown++;
                line += len + (nl ? 1 : 0);
            }
        } else {
            clean++;
        }
        free(text);
    }
    closedir(dir);
    if (clean + bad + cut) printf("# valgrind: %d reports clean, %d not, %d cut short by SIGKILL\n",
                                  clean, bad, cut);
    fflush(stdout);
    return bad;
}

static const char *s_srcroot(void)
{
    if (!s_root[0]) {
        /* the runner starts us from the top of the tree */
        if (!getcwd(s_root, sizeof s_root)) strcpy(s_root, ".");
    }
    return s_root;
}

const char *th_dir(void)
{
    if (!s_dir[0]) {
        const char *out = getenv("HOTLINE_TEST_OUT");
        char base[256];
        snprintf(base, sizeof base, "%s", out ? out : "tests/out");
        mkdir(base, 0755);
        snprintf(s_dir, sizeof s_dir, "%s/%s-%d", base, s_name, (int)getpid());
        mkdir(s_dir, 0755);
    }
    return s_dir;
}

static char *s_slot(void)
{
    static char slots[8][1024];
    static int next;
    return slots[next++ % 8];
}

const char *th_path(const char *name)
{
    char *p = s_slot();
    snprintf(p, 1024, "%s/%s", th_dir(), name);
    return p;
}

const char *th_bin(const char *name)
{
    char *p = s_slot();
    const char *dir = getenv("HOTLINE_BIN");
    if (dir)
        snprintf(p, 1024, "%s/%s", dir, name);
    else
        snprintf(p, 1024, "%s/bin/%s", s_srcroot(), name);
    return p;
}

const char *th_src(const char *rel)
{
    char *p = s_slot();
    snprintf(p, 1024, "%s/%s", s_srcroot(), rel);
    return p;
}

const char *th_write(const char *name, const char *text)
{
    const char *path = th_path(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

char *th_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

int th_file_has(const char *path, const char *needle)
{
    char *text = th_read(path);
    int has = text && strstr(text, needle) != NULL;
    free(text);
    return has;
}

void th_file_must(const char *path, const char *needle, int ms)
{
    if (TH_WAIT_UNTIL(th_file_has(path, needle), ms)) return;
    char *text = th_read(path);
    fprintf(stderr, "# %s:\n%s\n", path, text ? text : "(missing)");
    free(text);
    fail_msg("\"%s\" did not appear in %s within %d ms", needle, path, ms);
}

int th_free_port(void)
{
    /* Ask the kernel for an ephemeral port; a port range per process keeps
     * parallel runs apart even when the kernel hands the same one twice. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        socklen_t len = sizeof a;
        if (getsockname(fd, (struct sockaddr *)&a, &len) == 0) port = ntohs(a.sin_port);
    }
    if (fd >= 0) close(fd);
    assert_true(port > 0);
    return port;
}

static void s_track(pid_t pid)
{
    if (s_nchildren < (int)(sizeof s_children / sizeof s_children[0]))
        s_children[s_nchildren++] = pid;
}

static void s_untrack(pid_t pid)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] == pid) s_children[i] = 0;
}

pid_t th_spawn(const char *log, const char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        s_exec(argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    s_track(pid);
    return pid;
}

int th_stop_pid(pid_t pid, int sig, int ms)
{
    if (pid <= 0) return -1;
    kill(pid, sig);
    int64_t end = th_mono_ms() + ms;
    int status;
    while (th_mono_ms() < end) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            s_untrack(pid);
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            return 128 + WTERMSIG(status);
        }
        th_sleep_ms(5);
    }
    return -1;
}

int th_run(const char *const argv[], const char *input, char **out, char **err, int timeout_ms)
{
    int pin[2], pout[2], perr[2];
    if (pipe(pin) || pipe(pout) || pipe(perr)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        close(pin[1]);
        close(pout[0]);
        close(perr[0]);
        s_exec(argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    s_track(pid);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    if (input) {
        size_t n = strlen(input), off = 0;
        while (off < n) {
            ssize_t w = write(pin[1], input + off, n - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
    }
    close(pin[1]);
    char *bufs[2] = {NULL, NULL};
    size_t lens[2] = {0, 0}, caps[2] = {0, 0};
    int fds[2] = {pout[0], perr[0]};
    int open_fds = 2;
    int64_t end = th_mono_ms() + timeout_ms;
    while (open_fds > 0 && th_mono_ms() < end) {
        struct pollfd pf[2];
        int np = 0, idx[2];
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0) {
                pf[np].fd = fds[i];
                pf[np].events = POLLIN;
                idx[np++] = i;
            }
        int r = poll(pf, (nfds_t)np, 50);
        if (r <= 0) continue;
        for (int k = 0; k < np; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP))) continue;
            int i = idx[k];
            if (caps[i] - lens[i] < 4096) {
                caps[i] = caps[i] ? caps[i] * 2 : 8192;
                bufs[i] = realloc(bufs[i], caps[i]);
            }
            ssize_t n = read(fds[i], bufs[i] + lens[i], caps[i] - lens[i] - 1);
            if (n <= 0) {
                close(fds[i]);
                fds[i] = -1;
                open_fds--;
            } else {
                lens[i] += (size_t)n;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0) close(fds[i]);
        if (!bufs[i]) bufs[i] = calloc(1, 1);
        bufs[i][lens[i]] = '\0';
    }
    int rc = th_stop_pid(pid, 0, end - th_mono_ms() > 0 ? (int)(end - th_mono_ms()) : 1);
    if (rc < 0) {
        th_stop_pid(pid, SIGKILL, 2000);
        rc = -1;
    }
    if (out) *out = bufs[0]; else free(bufs[0]);
    if (err) *err = bufs[1]; else free(bufs[1]);
    return rc;
}

/* argv of the build's program prog: its path (kept in bin), pre, then ap. */
#define S_MAXARGS 64
static void s_bin_argv(const char *argv[S_MAXARGS], char bin[1024], const char *prog,
                       const char *const pre[], va_list ap)
{
    int n = 0;
    snprintf(bin, 1024, "%s", th_bin(prog));
    argv[n++] = bin;
    for (int i = 0; pre && pre[i]; i++) {
        if (n >= S_MAXARGS - 1) fail_msg("%s: too many arguments", prog);
        argv[n++] = pre[i];
    }
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        if (n >= S_MAXARGS - 1) fail_msg("%s: too many arguments", prog);
        argv[n++] = a;
    }
    argv[n] = NULL;
}

int th_run_binv(const char *prog, const char *const pre[], const char *input, char **out,
                char **err, int timeout_ms, va_list ap)
{
    const char *argv[S_MAXARGS];
    char bin[1024];
    s_bin_argv(argv, bin, prog, pre, ap);
    return th_run(argv, input, out, err, timeout_ms);
}

int th_run_bin(const char *prog, const char *const pre[], const char *input, char **out,
               char **err, int timeout_ms, ...)
{
    va_list ap;
    va_start(ap, timeout_ms);
    int rc = th_run_binv(prog, pre, input, out, err, timeout_ms, ap);
    va_end(ap);
    return rc;
}

pid_t th_spawn_binv(const char *log, const char *prog, const char *const pre[], va_list ap)
{
    const char *argv[S_MAXARGS];
    char bin[1024];
    s_bin_argv(argv, bin, prog, pre, ap);
    return th_spawn(log, argv);
}

/* ---- processes on pipes -------------------------------------------------- */

struct th_proc {
    pid_t pid;
    int in, out; /* our ends: its stdin, its stdout */
    char *buf;
    size_t len, cap;
    int status; /* once reaped */
    int reaped;
};

th_proc *th_proc_start(const char *log, const char *const argv[])
{
    int pin[2], pout[2];
    /* close-on-exec: a later child must not hold this one's stdin open */
    assert_int_equal(pipe2(pin, O_CLOEXEC), 0);
    assert_int_equal(pipe2(pout, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        close(pin[0]);
        close(pin[1]);
        close(pout[0]);
        close(pout[1]);
        s_exec(argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    s_track(pid);
    close(pin[0]);
    close(pout[1]);
    th_proc *p = calloc(1, sizeof *p);
    p->pid = pid;
    p->in = pin[1];
    p->out = pout[0];
    fcntl(p->out, F_SETFL, fcntl(p->out, F_GETFL) | O_NONBLOCK);
    p->cap = 8192;
    p->buf = calloc(1, p->cap);
    return p;
}

pid_t th_proc_pid(const th_proc *p)
{
    return p->pid;
}

void th_proc_send(th_proc *p, const char *fmt, ...)
{
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > (int)sizeof text - 2) n = (int)sizeof text - 2;
    text[n++] = '\n';
    size_t off = 0;
    while (p->in >= 0 && off < (size_t)n) {
        ssize_t w = write(p->in, text + off, (size_t)n - off);
        if (w <= 0) {
            if (errno == EINTR) continue;
            break;
        }
        off += (size_t)w;
    }
}

void th_proc_close_stdin(th_proc *p)
{
    if (p->in >= 0) close(p->in);
    p->in = -1;
}

/* Read what is waiting, waiting up to ms for the first bytes. */
static void s_proc_read(th_proc *p, int ms)
{
    if (p->out < 0) {
        if (ms > 0) th_sleep_ms(ms < 10 ? ms : 10);
        return;
    }
    struct pollfd pf = {p->out, POLLIN, 0};
    if (poll(&pf, 1, ms) <= 0) return;
    for (;;) {
        if (p->cap - p->len < 4096) {
            p->cap *= 2;
            p->buf = realloc(p->buf, p->cap);
        }
        ssize_t n = read(p->out, p->buf + p->len, p->cap - p->len - 1);
        if (n > 0) {
            p->len += (size_t)n;
            p->buf[p->len] = '\0';
            continue;
        }
        if (n == 0) { /* end of its output */
            close(p->out);
            p->out = -1;
        }
        break;
    }
}

const char *th_proc_out(th_proc *p)
{
    s_proc_read(p, 0);
    return p->buf;
}

int th_proc_expect(th_proc *p, size_t *pos, const char *needle, int ms)
{
    size_t from = pos ? *pos : 0;
    int64_t end = th_mono_ms() + ms;
    for (;;) {
        s_proc_read(p, 0);
        if (from <= p->len) {
            const char *hit = strstr(p->buf + from, needle);
            if (hit) {
                if (pos) *pos = (size_t)(hit - p->buf) + strlen(needle);
                return 1;
            }
        }
        int64_t left = end - th_mono_ms();
        if (left <= 0) return 0;
        s_proc_read(p, left < 50 ? (int)left : 50);
    }
}

void th_proc_must(th_proc *p, size_t *pos, const char *needle, int ms)
{
    if (th_proc_expect(p, pos, needle, ms)) return;
    size_t from = pos ? *pos : 0;
    fprintf(stderr, "# waited %d ms for \"%s\" after offset %zu; output so far:\n", ms, needle,
            from);
    const char *line = p->buf;
    while (*line) {
        const char *nl = strchr(line, '\n');
        int n = nl ? (int)(nl - line) : (int)strlen(line);
        fprintf(stderr, "#   %.*s\n", n, line);
        line += n + (nl ? 1 : 0);
    }
    fail_msg("no \"%s\" within %d ms", needle, ms);
}

int th_proc_wait_exit(th_proc *p, int ms)
{
    if (p->reaped) return p->status;
    int64_t end = th_mono_ms() + ms;
    for (;;) {
        int status;
        s_proc_read(p, 0);
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            s_untrack(p->pid);
            p->reaped = 1;
            p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            s_proc_read(p, 0);
            return p->status;
        }
        if (th_mono_ms() >= end) return -1;
        th_sleep_ms(5);
    }
}

void th_proc_destroy(th_proc **pp)
{
    th_proc *p = *pp;
    if (!p) return;
    *pp = NULL;
    if (!p->reaped) th_stop_pid(p->pid, SIGKILL, 3000);
    if (p->in >= 0) close(p->in);
    if (p->out >= 0) close(p->out);
    free(p->buf);
    free(p);
}

/* ---- dispatcher ------------------------------------------------------- */

void th_disp_start(th_disp *d, const char *config, const char *db, ...)
{
    if (!d->front[0]) {
        snprintf(d->front, sizeof d->front, "tcp://127.0.0.1:%d", th_free_port());
        snprintf(d->events, sizeof d->events, "tcp://127.0.0.1:%d", th_free_port());
    }
    snprintf(d->config, sizeof d->config, "%s", config);
    snprintf(d->db, sizeof d->db, "%s", db);
    snprintf(d->log, sizeof d->log, "%s", th_path("dispatcher.log"));
    const char *argv[40];
    int n = 0;
    argv[n++] = th_bin("hotline-dispatcher");
    argv[n++] = "-c";
    argv[n++] = d->config;
    argv[n++] = "--db";
    argv[n++] = d->db;
    argv[n++] = "--front";
    argv[n++] = d->front;
    argv[n++] = "--events";
    argv[n++] = d->events;
    va_list ap;
    va_start(ap, db);
    const char *extra;
    int has_http = 0;
    while ((extra = va_arg(ap, const char *)) != NULL && n < 36) {
        if (strcmp(extra, "--http") == 0) has_http = 1;
        argv[n++] = extra;
    }
    va_end(ap);
    /* a test that does not use HTTP must not collide with other runs on the
     * configured port (the demo config's 7452, say): let the kernel pick */
    if (!has_http) {
        argv[n++] = "--http";
        argv[n++] = "127.0.0.1:0";
    }
    argv[n] = NULL;
    d->pid = th_spawn(d->log, argv);
    /* ready when it answers a ping */
    int64_t end = th_mono_ms() + th_slow(15000);
    int ready = 0;
    while (!ready && th_mono_ms() < end) {
        int status;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            s_untrack(d->pid);
            char *log = th_read(d->log);
            fprintf(stderr, "# dispatcher exited during start-up:\n%s\n", log ? log : "");
            free(log);
            d->pid = 0;
            fail_msg("dispatcher exited during start-up");
        }
        th_client *c = th_client_new_curve(d->front, d->probe, NULL, NULL);
        char req[] = "{\"v\":1,\"id\":\"ready\",\"op\":\"ping\"}";
        th_send_raw(c, req, strlen(req));
        cJSON *r = th_recv_reply(c, 200);
        if (r) ready = 1;
        cJSON_Delete(r);
        th_client_destroy(&c);
    }
    if (!ready) fail_msg("dispatcher did not answer within %d s (log %s)", th_slow(15), d->log);
}

int th_disp_stop(th_disp *d)
{
    int rc = th_stop_pid(d->pid, SIGTERM, th_slow(20000));
    if (rc < 0) th_stop_pid(d->pid, SIGKILL, 5000);
    d->pid = 0;
    return rc;
}

void th_disp_kill9(th_disp *d)
{
    th_stop_pid(d->pid, SIGKILL, 5000);
    d->pid = 0;
}

/* ---- clients ------------------------------------------------------------ */

struct th_client {
    void *sock;
    cJSON *pushes[256];
    int npushes;
    unsigned next_id;
};

/* Make a socket speak CURVE as a client. */
static void s_curve(void *sock, const th_keys *keys)
{
    if (!keys) return;
    assert_int_equal(zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, keys->server, 40), 0);
    assert_int_equal(zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, keys->pub, 40), 0);
    assert_int_equal(zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys->sec, 40), 0);
}

th_client *th_client_new(const char *endpoint, const char *role, const char *unit)
{
    return th_client_new_curve(endpoint, NULL, role, unit);
}

th_client *th_client_new_curve(const char *endpoint, const th_keys *keys, const char *role,
                               const char *unit)
{
    th_client *c = calloc(1, sizeof *c);
    c->sock = zmq_socket(s_zctx(), ZMQ_DEALER);
    s_sock_track(c->sock);
    int linger = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    s_curve(c->sock, keys);
    assert_int_equal(zmq_connect(c->sock, endpoint), 0);
    if (role) {
        cJSON *r;
        if (unit)
            r = th_call(c, "hello", "{\"role\":\"%s\",\"unit\":\"%s\",\"client\":\"test\"}", role,
                        unit);
        else
            r = th_call(c, "hello", "{\"role\":\"%s\",\"client\":\"test\"}", role);
        if (!th_is_ok(r)) {
            char *t = cJSON_PrintUnformatted(r);
            fail_msg("hello as %s %s refused: %s", role, unit ? unit : "", t);
        }
        cJSON_Delete(r);
    }
    return c;
}

void th_client_destroy(th_client **cp)
{
    th_client *c = *cp;
    if (!c) return;
    for (int i = 0; i < c->npushes; i++) cJSON_Delete(c->pushes[i]);
    s_sock_close(c->sock);
    free(c);
    *cp = NULL;
}

void th_send_raw(th_client *c, const void *data, size_t len)
{
    assert_true(zmq_send(c->sock, data, len, 0) == (int)len);
}

void th_send_frames(th_client *c, int nframes, const char *const frames[])
{
    for (int i = 0; i < nframes; i++)
        zmq_send(c->sock, frames[i], strlen(frames[i]), i < nframes - 1 ? ZMQ_SNDMORE : 0);
}

/* Receive one message (all frames joined) within ms; NULL on timeout. */
static cJSON *s_recv_json(void *sock, int ms)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0) return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(zmq_msg_data(&m), zmq_msg_size(&m));
    if (!j) {
        fprintf(stderr, "# unparseable message: %.*s\n", (int)zmq_msg_size(&m),
                (char *)zmq_msg_data(&m));
        j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "_unparseable", "1");
    }
    zmq_msg_close(&m);
    return j;
}

cJSON *th_recv_reply(th_client *c, int ms)
{
    int64_t end = th_mono_ms() + ms;
    for (;;) {
        int64_t left = end - th_mono_ms();
        if (left < 0) return NULL;
        cJSON *j = s_recv_json(c->sock, (int)left);
        if (!j) return NULL;
        if (cJSON_GetObjectItem(j, "push")) {
            if (c->npushes < 256)
                c->pushes[c->npushes++] = j;
            else
                cJSON_Delete(j);
            continue;
        }
        return j;
    }
}

static cJSON *s_vcall(th_client *c, const char *op, const char *argsfmt, va_list ap)
{
    cJSON *args = NULL;
    if (argsfmt && *argsfmt) {
        char text[70000];
        vsnprintf(text, sizeof text, argsfmt, ap);
        args = cJSON_Parse(text);
        if (!args) fail_msg("test bug: arguments are not JSON: %s", text);
    } else {
        args = cJSON_CreateObject();
    }
    char id[32];
    snprintf(id, sizeof id, "t%u", ++c->next_id);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddNumberToObject(req, "v", 1);
    cJSON_AddStringToObject(req, "id", id);
    cJSON_AddStringToObject(req, "op", op);
    cJSON *it = args->child;
    while (it) {
        cJSON *next = it->next;
        cJSON *d = cJSON_DetachItemViaPointer(args, it);
        cJSON_AddItemToObject(req, d->string, d);
        it = next;
    }
    cJSON_Delete(args);
    char *text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    th_send_raw(c, text, strlen(text));
    free(text);
    int64_t end = th_mono_ms() + th_slow(10000);
    for (;;) {
        int64_t left = end - th_mono_ms();
        cJSON *r = left > 0 ? th_recv_reply(c, (int)left) : NULL;
        if (!r) fail_msg("no reply to %s within %d s", op, th_slow(10));
        const char *re = cJSON_GetStringValue(cJSON_GetObjectItem(r, "re"));
        if (re && strcmp(re, id) == 0) return r;
        cJSON_Delete(r); /* a late reply to an earlier request */
    }
}

cJSON *th_call(th_client *c, const char *op, const char *argsfmt, ...)
{
    va_list ap;
    va_start(ap, argsfmt);
    cJSON *r = s_vcall(c, op, argsfmt, ap);
    va_end(ap);
    return r;
}

cJSON *th_ok(th_client *c, const char *op, const char *argsfmt, ...)
{
    va_list ap;
    va_start(ap, argsfmt);
    cJSON *r = s_vcall(c, op, argsfmt, ap);
    va_end(ap);
    if (!th_is_ok(r)) {
        char *t = cJSON_PrintUnformatted(r);
        fail_msg("%s refused: %s", op, t);
    }
    return r;
}

void th_err(th_client *c, const char *code, const char *op, const char *argsfmt, ...)
{
    va_list ap;
    va_start(ap, argsfmt);
    cJSON *r = s_vcall(c, op, argsfmt, ap);
    va_end(ap);
    const char *got = th_err_code(r);
    if (!got || strcmp(got, code) != 0) {
        char *t = cJSON_PrintUnformatted(r);
        fail_msg("%s: expected error %s, got %s", op, code, t);
    }
    const char *msg = th_gets(r, "error.message");
    if (!msg || !*msg) fail_msg("%s: error %s without a message", op, code);
    cJSON_Delete(r);
}

cJSON *th_wait_push(th_client *c, const char *kind, int ms)
{
    int64_t end = th_mono_ms() + ms;
    for (;;) {
        for (int i = 0; i < c->npushes; i++) {
            const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(c->pushes[i], "push"));
            if (k && strcmp(k, kind) == 0) {
                cJSON *p = c->pushes[i];
                memmove(&c->pushes[i], &c->pushes[i + 1],
                        (size_t)(c->npushes - i - 1) * sizeof(cJSON *));
                c->npushes--;
                return p;
            }
        }
        int64_t left = end - th_mono_ms();
        if (left <= 0) return NULL;
        cJSON *j = s_recv_json(c->sock, (int)left);
        if (!j) return NULL;
        if (c->npushes < 256)
            c->pushes[c->npushes++] = j;
        else
            cJSON_Delete(j);
    }
}

/* ---- subscribers ------------------------------------------------------- */

struct th_sub {
    void *sock;
};

th_sub *th_sub_new(const char *endpoint, const char *prefix)
{
    return th_sub_new_curve(endpoint, prefix, NULL);
}

th_sub *th_sub_new_curve(const char *endpoint, const char *prefix, const th_keys *keys)
{
    th_sub *s = calloc(1, sizeof *s);
    s->sock = zmq_socket(s_zctx(), ZMQ_SUB);
    s_sock_track(s->sock);
    int linger = 0;
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
    s_curve(s->sock, keys);
    zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, prefix ? prefix : "", prefix ? strlen(prefix) : 0);
    assert_int_equal(zmq_connect(s->sock, endpoint), 0);
    /* a SUB joins asynchronously; give the subscription time to reach the
     * publisher by waiting for the connection rather than sleeping blindly */
    th_sleep_ms(200);
    return s;
}

void th_sub_destroy(th_sub **sp)
{
    th_sub *s = *sp;
    if (!s) return;
    s_sock_close(s->sock);
    free(s);
    *sp = NULL;
}

cJSON *th_sub_wait(th_sub *s, const char *prefix, int ms)
{
    int64_t end = th_mono_ms() + ms;
    for (;;) {
        int64_t left = end - th_mono_ms();
        if (left <= 0) return NULL;
        zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)left) <= 0) return NULL;
        char topic[256];
        int n = zmq_recv(s->sock, topic, sizeof topic - 1, ZMQ_DONTWAIT);
        if (n < 0) continue;
        topic[n < (int)sizeof topic - 1 ? n : (int)sizeof topic - 1] = '\0';
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(s->sock, ZMQ_RCVMORE, &more, &ml);
        if (!more) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, s->sock, 0);
        cJSON *j = cJSON_ParseWithLength(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        if (!j) continue;
        if (prefix && strncmp(topic, prefix, strlen(prefix)) != 0) {
            cJSON_Delete(j);
            continue;
        }
        cJSON_AddStringToObject(j, "_topic", topic);
        return j;
    }
}

/* ---- replies ------------------------------------------------------------- */

int th_is_ok(const cJSON *reply)
{
    return cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok"));
}

const char *th_err_code(const cJSON *reply)
{
    return th_gets(reply, "error.code");
}

const cJSON *th_get(const cJSON *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = obj;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
        if (cJSON_IsArray(cur)) {
            char *endp;
            long i = strtol(tok, &endp, 10);
            cur = *endp ? NULL : cJSON_GetArrayItem(cur, (int)i);
        } else {
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        }
    }
    return cur;
}

const char *th_gets(const cJSON *obj, const char *path)
{
    const cJSON *v = th_get(obj, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t th_geti(const cJSON *obj, const char *path)
{
    const cJSON *v = th_get(obj, path);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* ---- main ------------------------------------------------------------------ */

static void s_kill_children(void)
{
    /* under valgrind, a clean stop first, so that its report is complete */
    for (int i = 0; th_valgrind() && i < s_nchildren; i++)
        if (s_children[i] > 0 && th_stop_pid(s_children[i], SIGTERM, 30000) >= 0) s_children[i] = 0;
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0) th_stop_pid(s_children[i], SIGKILL, 3000);
    s_nchildren = 0;
}

int th_main(const struct CMUnitTest *tests, size_t n, const char *name)
{
    snprintf(s_name, sizeof s_name, "%s", name);
    signal(SIGPIPE, SIG_IGN);
    s_srcroot();
    int rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    s_kill_children();
    for (int i = 0; i < s_nsocks; i++)
        if (s_socks[i]) s_sock_close(s_socks[i]);
    if (s_ctx) zmq_ctx_term(s_ctx);
    if (th_valgrind() && s_valgrind_reports() > 0 && rc == 0) rc = 1;
    return rc;
}
