/* bench.h — the benchmark driver's shared parts: options, clocks, child
 * processes (the real dispatcher and workers), percentiles, the table of
 * results, and the entry point of each bench. Benchmarks measure; they
 * never assert: a failed bench prints its row as "failed" with the reason. */
#ifndef HOTLINE_BENCH_H
#define HOTLINE_BENCH_H

#include "hotline/config.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct bn_opts {
    int quick;          /* short run, small counts: keeps the benches working */
    const char *bin;    /* directory of hotline-dispatcher and hotline-worker */
    const char *dir;    /* scratch directory for databases and logs */
    const char *config; /* the city configuration (config/zhucheng.json) */
    unsigned only;      /* bit per bench (1 << 1 for B1 …); 0 = all */
    int count;          /* --count: overrides the request count of B1–B3 (profiling) */
    hl_config *cfg;     /* loaded from config */
} bn_opts;

/* ---- clocks ---------------------------------------------------------- */

int64_t bn_ns(void); /* monotonic nanoseconds */
double bn_sec(void); /* monotonic seconds */
void bn_sleep_ms(int ms);

/* ---- children -------------------------------------------------------- */

/* A free TCP port on 127.0.0.1. */
int bn_free_port(void);
/* Start argv with stdout and stderr appended to log; the child is killed
 * when the driver exits. Returns the pid or -1. */
pid_t bn_spawn(const char *log, const char *const argv[]);
/* SIGTERM, wait up to ms, then SIGKILL. Returns the exit status or -1. */
int bn_stop(pid_t pid, int ms);
/* The process's user + system CPU seconds, its resident set and peak
 * resident set in KiB (from /proc); -1 when unreadable. */
double bn_cpu_sec(pid_t pid);
/* CPU seconds of the process's main thread, to the nanosecond (schedstat):
 * the dispatcher's loop, without ZeroMQ's I/O threads. */
double bn_main_cpu_sec(pid_t pid);
long bn_rss_kb(pid_t pid);
long bn_hwm_kb(pid_t pid);

/* A running dispatcher. */
typedef struct bn_disp {
    pid_t pid;
    char front[64], events[64];
    char db[512], log[512];
    double ready_sec; /* from exec to the first reply to a ping */
    pid_t perf;       /* perf record attached (BENCH_PERF=1), or 0 */
} bn_disp;

/* Start the dispatcher on db with fresh ports and wait (up to 60 s) for
 * its first reply. 0 or -1 (with a message on stderr). With BENCH_PERF=1
 * in the environment, perf record (cpu-clock, call graphs) attaches to it
 * and writes DIR/perf-TAG.data until it stops; BENCH_WRAP="valgrind
 * --tool=callgrind ..." runs it under that command instead. */
int bn_disp_start(bn_disp *d, const bn_opts *o, const char *db, const char *tag);
/* SIGTERM and wait for a clean exit (30 s). */
int bn_disp_stop(bn_disp *d);

/* Start an auto worker of unit; returns its pid or -1. */
pid_t bn_worker_start(const bn_opts *o, const bn_disp *d, const char *unit, const char *policy);

/* A path in the scratch directory (static slot, 8 rotating). */
const char *bn_path(const bn_opts *o, const char *name);
/* Remove a database and its -wal, -shm and .lock files. */
void bn_rm_db(const char *path);

/* ---- samples ----------------------------------------------------------- */

typedef struct bn_samples {
    double *v;
    size_t n, cap;
} bn_samples;
void bn_samples_add(bn_samples *s, double v);
/* The p-th percentile (0..100), nearest rank; sorts in place. NAN if empty. */
double bn_pct(bn_samples *s, double p);
void bn_samples_free(bn_samples *s);

/* ---- the table ------------------------------------------------------- */

enum { BN_MET = 1, BN_NOT_MET = 0, BN_NA = -1 };

/* Add a row: bench ("B1"), what is measured, the figure and the limit as
 * text, the ratio text, the target, and whether it is met. */
void bn_row(const char *bench, const char *what, const char *figure, const char *limit,
            const char *ratio, const char *target, int met);
/* A bench that could not run: one row saying why. */
void bn_row_failed(const char *bench, const char *why);
/* How many benches could not run. */
int bn_failures(void);
void bn_table_print(void);
/* Format helpers: "12,345/s", "1.23 ms". Static slots, 16 rotating. */
const char *bn_fmt_rate(double per_sec);
const char *bn_fmt_ms(double ms);
const char *bn_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the benches --------------------------------------------------------- */

/* Cells of distinct towns in the configuration: their ids and town ids;
 * returns how many (at most max). */
int bn_town_cells(const hl_config *cfg, const char **cells, const char **towns, int max);

void bn_b1_create(const bn_opts *o);
void bn_b2_lifecycle(const bn_opts *o);
void bn_b3_latency(const bn_opts *o);
void bn_b4_deadlines(const bn_opts *o);
void bn_b5_memory(const bn_opts *o);

/* The limits measured in the same run (raw.c). */
/* Raw SQLite: tickets (one ticket row + one event row) per second, in
 * transactions of per_tx tickets, on a fresh database with the store's
 * schema and pragmas. */
double bn_raw_sqlite(const bn_opts *o, int n, int per_tx);
/* The same, with each transaction's time added to tx_ms (may be NULL). */
double bn_raw_sqlite_lat(const bn_opts *o, int n, int per_tx, bn_samples *tx_ms);
/* Median ms of a small write + fsync in the scratch directory; its 99th
 * percentile in *p99 (may be NULL). */
double bn_fsync_ms(const bn_opts *o, int n, double *p99);
/* Median ms of a DEALER→ROUTER→DEALER echo of a create-sized message on
 * loopback TCP. */
double bn_zmq_rtt_ms(int n);

/* The bulk loader (load.c). bn_load: a database of n tickets through the
 * store module, the last open_n of them open (dispatched in the last
 * minute, thresholds hours ahead), the others closed. bn_load_due: n more
 * open tickets whose yellow thresholds fall at first, first + step, …; the
 * id of the first in *first_id. 0 or -1. */
int bn_load(const bn_opts *o, const char *db, int n, int open_n);
int bn_load_due(const bn_opts *o, const char *db, int n, int64_t first, int64_t step_ms,
                int64_t *first_id);

#endif
