/* harness.h — integration test helpers: start the real binaries on loopback
 * with ports no other run uses, talk to them over real ZeroMQ sockets, wait
 * for replies and events with deadlines (never sleeps as synchronisation),
 * and stop them by process id. Tests use cmocka and print TAP. */
#ifndef HOTLINE_TEST_HARNESS_H
#define HOTLINE_TEST_HARNESS_H

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

/* A scratch directory for this test process: tests/out/<name>-<pid>/. */
const char *th_dir(void);
/* A path inside th_dir(); returns a static buffer rotated over 8 slots. */
const char *th_path(const char *name);
/* Path of a binary of the build under test (HOTLINE_BIN, else bin/). */
const char *th_bin(const char *name);
/* Path of a file from the source tree (config/test-small.json). */
const char *th_src(const char *rel);
/* Write text to a file under th_dir(); returns its path (static slot). */
const char *th_write(const char *name, const char *text);
/* Read a file whole; caller frees; NULL if missing. */
char *th_read(const char *path);
/* 1 when the file (a process's log) holds needle. */
int th_file_has(const char *path, const char *needle);
/* Wait up to ms for the file to hold needle; else fail the test, showing
 * the file. */
void th_file_must(const char *path, const char *needle, int ms);

/* A free TCP port on 127.0.0.1 (bound, read, closed: a different one each call). */
int th_free_port(void);

/* CURVE keys of a test client (secure mode), Z85 and NUL-terminated: the
 * dispatcher's public key, the client's public and secret keys. */
typedef struct th_keys {
    char server[41];
    char pub[41];
    char sec[41];
} th_keys;

/* A dispatcher process. */
typedef struct th_disp {
    pid_t pid;
    char front[64];
    char events[64];
    char config[512];
    char db[512];
    char log[512];
    const th_keys *probe; /* secure mode: the keys the start-up ping uses */
} th_disp;

/* Start bin/hotline-dispatcher -c config --db db --front ... --events ...
 * with fresh ports (or the ones already in d when d->front is set, for a
 * restart) and wait until it answers a ping (10 s). Extra arguments may be
 * given as a NULL-terminated list. Fails the test on timeout. */
void th_disp_start(th_disp *d, const char *config, const char *db, ...);
/* SIGTERM and wait (10 s); returns the exit status (or -1 on timeout). */
int th_disp_stop(th_disp *d);
/* SIGKILL and reap. */
void th_disp_kill9(th_disp *d);

/* Any child process started by the test; killed at exit if still running. */
pid_t th_spawn(const char *log, const char *const argv[]);
/* Send sig; wait up to ms for the exit; returns the status or -1 on timeout. */
int th_stop_pid(pid_t pid, int sig, int ms);
/* Run a command to completion with stdin text (may be NULL); captures
 * stdout and stderr (caller frees); returns the exit status. */
int th_run(const char *const argv[], const char *input, char **out, char **err, int timeout_ms);

/* th_run of the build's program prog (th_bin): its arguments are pre (a
 * NULL-terminated array; NULL for none), then those of ap up to a NULL.
 * out and err may be NULL (that output is dropped). Fails the test when
 * there are more than 60 arguments. */
int th_run_binv(const char *prog, const char *const pre[], const char *input, char **out,
                char **err, int timeout_ms, va_list ap);
/* The same with the arguments after timeout_ms (NULL-terminated). */
int th_run_bin(const char *prog, const char *const pre[], const char *input, char **out,
               char **err, int timeout_ms, ...);
/* th_spawn of the build's program prog, its arguments as th_run_binv. */
pid_t th_spawn_binv(const char *log, const char *prog, const char *const pre[], va_list ap);

/* A child with stdin and stdout on pipes (stderr appended to log), for
 * driving a console: send lines, wait for output with a deadline. */
typedef struct th_proc th_proc;
th_proc *th_proc_start(const char *log, const char *const argv[]);
pid_t th_proc_pid(const th_proc *p);
/* Write printf-style text and a newline to its stdin. */
void th_proc_send(th_proc *p, const char *fmt, ...);
/* Close its stdin (end of input). */
void th_proc_close_stdin(th_proc *p);
/* Everything it printed so far (reads what is waiting first). */
const char *th_proc_out(th_proc *p);
/* Wait up to ms for needle in the output at or after *pos (0 when pos is
 * NULL); on success *pos moves just past the match and 1 is returned. */
int th_proc_expect(th_proc *p, size_t *pos, const char *needle, int ms);
/* th_proc_expect that fails the test, showing the output, on timeout. */
void th_proc_must(th_proc *p, size_t *pos, const char *needle, int ms);
/* Wait for the exit up to ms; the status (as th_stop_pid) or -1. */
int th_proc_wait_exit(th_proc *p, int ms);
/* Kill if still running, close the pipes, free; nulls *p. */
void th_proc_destroy(th_proc **p);

/* A DEALER client. */
typedef struct th_client th_client;
/* Connect; when role is non-NULL say hello as role (and unit). */
th_client *th_client_new(const char *endpoint, const char *role, const char *unit);
/* The same speaking CURVE with keys (set before connecting). */
th_client *th_client_new_curve(const char *endpoint, const th_keys *keys, const char *role,
                               const char *unit);
void th_client_destroy(th_client **c);
/* Send raw bytes as one frame (or several frames when nframes > 1). */
void th_send_raw(th_client *c, const void *data, size_t len);
void th_send_frames(th_client *c, int nframes, const char *const frames[]);
/* Wait for the next reply (not a push), up to ms; NULL on timeout. */
cJSON *th_recv_reply(th_client *c, int ms);
/* Send a request built from op and a JSON object text of arguments
 * (printf-style; "" or NULL for none), wait for its reply (5 s), return it.
 * Fails the test when no reply comes. */
cJSON *th_call(th_client *c, const char *op, const char *argsfmt, ...);
/* th_call that asserts ok:true; returns the reply. */
cJSON *th_ok(th_client *c, const char *op, const char *argsfmt, ...);
/* th_call that asserts ok:false with the given error code. */
void th_err(th_client *c, const char *code, const char *op, const char *argsfmt, ...);
/* Wait for a push of the given kind (queued ones first); NULL on timeout. */
cJSON *th_wait_push(th_client *c, const char *kind, int ms);

/* A SUB socket on the events endpoint. */
typedef struct th_sub th_sub;
th_sub *th_sub_new(const char *endpoint, const char *prefix);
th_sub *th_sub_new_curve(const char *endpoint, const char *prefix, const th_keys *keys);
void th_sub_destroy(th_sub **s);
/* Next event whose topic starts with prefix, up to ms; the topic is added
 * to the object as "_topic". NULL on timeout. */
cJSON *th_sub_wait(th_sub *s, const char *prefix, int ms);

/* Reply helpers. */
int th_is_ok(const cJSON *reply);
const char *th_err_code(const cJSON *reply);
/* Dotted path lookup: "ticket.location.town", "tickets.0.no". */
const cJSON *th_get(const cJSON *obj, const char *path);
const char *th_gets(const cJSON *obj, const char *path);   /* string or NULL */
int64_t th_geti(const cJSON *obj, const char *path);       /* number or -1 */

/* Poll cond every 10 ms until true or ms pass; returns the final value. */
#define TH_WAIT_UNTIL(cond, ms)                                                   \
    ({                                                                           \
        int64_t th__end = th_mono_ms() + (ms);                                   \
        int th__ok;                                                              \
        while (!(th__ok = (cond)) && th_mono_ms() < th__end) th_sleep_ms(10);    \
        th__ok;                                                                  \
    })
int64_t th_mono_ms(void);
void th_sleep_ms(int ms);

/* HOTLINE_VALGRIND=1 runs every hotline-* program a test starts under
 * valgrind's memcheck (report in th_dir()/valgrind-<program>-<pid>.log,
 * suppressions from tests/valgrind.supp), makes the harness's own
 * deadlines five times longer, and has th_main fail the test when a report
 * shows an error or a leak. th_valgrind() says whether it is on; th_slow(ms)
 * is ms stretched accordingly, for a test's own deadlines. */
int th_valgrind(void);
int th_slow(int ms);

/* Run cmocka tests with TAP output; kills leftover children afterwards
 * (under valgrind with SIGTERM first) and checks the valgrind reports. */
int th_main(const struct CMUnitTest *tests, size_t n, const char *name);
#define TH_MAIN(name, tests) th_main(tests, sizeof(tests) / sizeof((tests)[0]), name)

#endif
