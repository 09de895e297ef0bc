/* raw.c — the limits the figures are compared with, measured in the same
 * run on the same machine: raw SQLite inserts on the store's own schema and
 * pragmas, one small write + fsync on the database's file system, and a
 * ZeroMQ DEALER↔ROUTER round trip on loopback. Nothing of the dispatcher
 * runs here but store_open, which lays down the schema. */
#include "bench.h"

#include "store.h"

#include "hotline/util.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* What a create writes into the two rows, in size and shape. */
#define RAW_DESCRIPTION "楼下广场舞音响声音过大，晚上十点以后仍未停止，严重影响老人和孩子休息，希望尽快处理。"
#define RAW_EVENT_JSON                                                                           \
    "{\"seq\":%lld,\"time\":\"2026-11-27T05:40:00.123Z\",\"kind\":\"created\",\"actor\":"       \
    "\"operator:bench\",\"note\":\"routed by territorial handling\",\"ticket\":{\"id\":%lld,"    \
    "\"no\":\"20261127-%06lld\",\"status\":\"dispatched\",\"lead\":\"zc.mizhou\",\"category\":" \
    "\"env.noise\",\"urgency\":\"normal\"}}"

static int s_step(sqlite3 *db, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "bench: raw SQLite: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

double bn_raw_sqlite(const bn_opts *o, int n, int per_tx)
{
    return bn_raw_sqlite_lat(o, n, per_tx, NULL);
}

double bn_raw_sqlite_lat(const bn_opts *o, int n, int per_tx, bn_samples *tx_ms)
{
    const char *path = bn_path(o, "raw.db");
    bn_rm_db(path);
    char *err = NULL;
    store *st = store_open(path, 2, &err); /* the schema and WAL, as the dispatcher has them */
    if (!st) {
        fprintf(stderr, "bench: raw SQLite: %s\n", err);
        free(err);
        return -1;
    }
    store_close(&st);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return -1;
    /* the store's pragmas (store_open): WAL is kept in the file */
    sqlite3_exec(db,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                 "PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY",
                 NULL, NULL, NULL);
    sqlite3_stmt *ti, *ei, *begin, *commit;
    sqlite3_prepare_v2(db,
                       "INSERT INTO tickets (no, status, category, urgency, channel, title, "
                       "description, caller_name, caller_phone, cell, address, town, lead, co, "
                       "created_at, dispatched_at, sign_due, finish_due) VALUES (?1, "
                       "'dispatched', 'env.noise', 'normal', 'phone', NULL, ?2, '张先生', ?3, "
                       "'370782001001001', '密州街道人民路100号', 'zc.mizhou', 'zc.mizhou', '[]', "
                       "?4, ?4, ?5, ?6)",
                       -1, &ti, NULL);
    sqlite3_prepare_v2(db,
                       "INSERT INTO events (seq, ticket_id, time, kind, topic, actor, "
                       "from_status, to_status, unit, note, json) VALUES (?1, ?2, ?3, 'created', "
                       "'ticket.created.zc.mizhou', 'operator:bench', NULL, 'dispatched', "
                       "'zc.mizhou', 'routed by territorial handling', ?4)",
                       -1, &ei, NULL);
    sqlite3_prepare_v2(db, "BEGIN", -1, &begin, NULL);
    sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL);
    int64_t now = hl_now();
    double t0 = bn_sec();
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i += per_tx) {
        int64_t tx0 = bn_ns();
        rc |= s_step(db, begin);
        for (int k = i; k < i + per_tx && k < n && rc == 0; k++) {
            char no[32], phone[24], json[600];
            snprintf(no, sizeof no, "20261127-%06d", k + 1);
            snprintf(phone, sizeof phone, "139%08d", k);
            snprintf(json, sizeof json, RAW_EVENT_JSON, (long long)k + 1, (long long)k + 1,
                     (long long)k + 1);
            sqlite3_bind_text(ti, 1, no, -1, SQLITE_STATIC);
            sqlite3_bind_text(ti, 2, RAW_DESCRIPTION, -1, SQLITE_STATIC);
            sqlite3_bind_text(ti, 3, phone, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ti, 4, now + k);
            sqlite3_bind_int64(ti, 5, now + k + 4 * 3600000LL);
            sqlite3_bind_int64(ti, 6, now + k + 5 * 86400000LL);
            rc |= s_step(db, ti);
            sqlite3_bind_int64(ei, 1, k + 1);
            sqlite3_bind_int64(ei, 2, sqlite3_last_insert_rowid(db));
            sqlite3_bind_int64(ei, 3, now + k);
            sqlite3_bind_text(ei, 4, json, -1, SQLITE_STATIC);
            rc |= s_step(db, ei);
        }
        rc |= s_step(db, commit);
        if (tx_ms) bn_samples_add(tx_ms, (double)(bn_ns() - tx0) / 1e6);
    }
    double secs = bn_sec() - t0;
    sqlite3_finalize(ti);
    sqlite3_finalize(ei);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    bn_rm_db(path);
    return rc == 0 && secs > 0 ? n / secs : -1;
}

double bn_fsync_ms(const bn_opts *o, int n, double *p99)
{
    const char *path = bn_path(o, "fsync.bin");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) return -1;
    char buf[512];
    memset(buf, 'x', sizeof buf);
    bn_samples s = {0};
    for (int i = 0; i < n; i++) {
        int64_t t0 = bn_ns();
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fsync(fd) != 0) break;
        bn_samples_add(&s, (double)(bn_ns() - t0) / 1e6);
    }
    close(fd);
    unlink(path);
    double med = bn_pct(&s, 50);
    if (p99) *p99 = bn_pct(&s, 99);
    bn_samples_free(&s);
    return med;
}

/* ---- ZeroMQ round trip -------------------------------------------------------- */

typedef struct echo {
    void *ctx;
    char ep[64];
    int n;
} echo;

static void *s_echo(void *arg)
{
    echo *e = arg;
    void *r = zmq_socket(e->ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
    zmq_bind(r, e->ep);
    for (int i = 0; i < e->n; i++) {
        zmq_msg_t id, m;
        zmq_msg_init(&id);
        zmq_msg_init(&m);
        if (zmq_msg_recv(&id, r, 0) < 0 || zmq_msg_recv(&m, r, 0) < 0) break;
        zmq_msg_send(&id, r, ZMQ_SNDMORE);
        zmq_msg_send(&m, r, 0);
    }
    zmq_close(r);
    return NULL;
}

double bn_zmq_rtt_ms(int n)
{
    int warm = n / 10 + 10;
    echo e = {zmq_ctx_new(), "", n + warm};
    snprintf(e.ep, sizeof e.ep, "tcp://127.0.0.1:%d", bn_free_port());
    pthread_t th;
    pthread_create(&th, NULL, s_echo, &e);
    void *d = zmq_socket(e.ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(d, e.ep);
    /* the size of a create request */
    char msg[600];
    memset(msg, 'x', sizeof msg);
    bn_samples s = {0};
    char back[1024];
    for (int i = 0; i < n + warm; i++) {
        int64_t t0 = bn_ns();
        if (zmq_send(d, msg, sizeof msg, 0) < 0 || zmq_recv(d, back, sizeof back, 0) < 0) break;
        if (i >= warm) bn_samples_add(&s, (double)(bn_ns() - t0) / 1e6);
    }
    zmq_close(d);
    pthread_join(th, NULL);
    zmq_ctx_term(e.ctx);
    double med = bn_pct(&s, 50);
    bn_samples_free(&s);
    return med;
}
