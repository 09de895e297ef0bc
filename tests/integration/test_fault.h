/* test_fault.h — helpers shared by the fault tests (test_fault_*.c): raw
 * DEALER sockets that pipeline requests, tickets marked in their
 * description so a census can count each one, the event log checked for
 * gaps, a process's resident memory. Header-only: each test is one binary. */
#ifndef HOTLINE_TEST_FAULT_H
#define HOTLINE_TEST_FAULT_H

#include "test_dispatcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zmq.h>

#define TF_FN static __attribute__((unused))

/* A raw DEALER on ep that queues without limit, so a test can pipeline. */
TF_FN void *tf_dealer(void *ctx, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

/* Send text as one frame on a raw socket. */
TF_FN void tf_send(void *s, const char *text)
{
    assert_int_equal(zmq_send(s, text, strlen(text), 0), (int)strlen(text));
}

/* Take one reply if there is one within ms: 1 for an ok reply, 0 for an
 * error (its message on stderr), -1 for none. */
TF_FN int tf_take(void *s, int ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0) return -1;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_msg_close(&m);
    if (!j) fail_msg("a reply that is not JSON");
    int ok = th_is_ok(j);
    if (!ok) fprintf(stderr, "# refused: %s\n", th_gets(j, "error.message"));
    cJSON_Delete(j);
    return ok;
}

/* hello as role on a raw socket; the reply must be ok (5 s). */
TF_FN void tf_hello(void *s, const char *role)
{
    char req[100];
    snprintf(req, sizeof req, "{\"v\":1,\"id\":\"h\",\"op\":\"hello\",\"role\":\"%s\"}", role);
    tf_send(s, req);
    assert_int_equal(tf_take(s, 5000), 1);
}

/* A create request for the marked ticket "mK-I" with idem "mK-I" (and the
 * same request id), to be sent raw; extra is appended to the description
 * (NULL for nothing). Returns a static buffer. */
TF_FN const char *tf_create_req(int k, int i, const char *extra)
{
    static char req[70000];
    snprintf(req, sizeof req,
             "{\"v\":1,\"id\":\"m%d-%d\",\"op\":\"create\",\"idem\":\"m%d-%d\","
             "\"ticket\":{\"category\":\"env.noise\",\"description\":\"marker m%d-%d end%s\","
             "\"location\":{\"cell\":\"C-A2\"}}}",
             k, i, k, i, k, i, extra ? extra : "");
    return req;
}

/* "mK-I" of a reply's re or a ticket's description. */
TF_FN int tf_re(const char *re, int *k, int *i)
{
    return re && sscanf(re, "m%d-%d", k, i) == 2;
}

TF_FN int tf_marker(const char *desc, int *k, int *i)
{
    return desc && sscanf(desc, "marker m%d-%d end", k, i) == 2;
}

typedef struct tf__census {
    int nk, per;
    int *counts;
} tf__census;

static void tf__census_ticket(const cJSON *t, void *arg)
{
    tf__census *c = arg;
    int k, i;
    if (!tf_marker(th_gets(t, "description"), &k, &i) || k < 0 || k >= c->nk || i < 0 ||
        i >= c->per)
        fail_msg("a ticket without a marker: %s", th_gets(t, "description"));
    c->counts[k * c->per + i]++;
    /* routed, numbered, with deadlines: nothing half-made */
    if (!th_gets(t, "no") || !th_gets(t, "lead") || !th_gets(t, "finish_due"))
        fail_msg("ticket %lld is half-made", (long long)th_geti(t, "id"));
}

/* Count the tickets of each marker (counts[k * per + i]), paging through
 * list as mgr; also checks that no ticket is half-made. Returns the total. */
TF_FN int tf_census(th_client *mgr, int nk, int per, int *counts)
{
    memset(counts, 0, (size_t)nk * (size_t)per * sizeof *counts);
    tf__census c = {nk, per, counts};
    return (int)td_each_item(mgr, "list", "tickets", NULL, tf__census_ticket, &c);
}

static void tf__count_created(const cJSON *ev, void *created)
{
    const char *kind = th_gets(ev, "kind");
    *(int *)created += kind && strcmp(kind, "created") == 0;
}

/* The event log from seq 1 without a gap; returns how many events it
 * holds and (when created is given) how many are "created". */
TF_FN int tf_check_log(th_client *mgr, int *created)
{
    int c = 0;
    int n = (int)td_each_event(mgr, 1, tf__count_created, &c);
    if (created) *created = c;
    return n;
}

/* Resident memory of a process in kB (VmRSS of /proc/PID/status), -1 if
 * unknown. */
TF_FN long tf_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

/* Is the dispatcher under test built with a sanitizer? Its allocator keeps
 * freed memory in quarantine (so its RSS says little) and it runs a few
 * times slower (so loads are scaled down). */
TF_FN int tf_sanitized(void)
{
    static int known = -1;
    if (known >= 0) return known;
    FILE *f = fopen(th_bin("hotline-dispatcher"), "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *bin = malloc((size_t)len);
    assert_int_equal(fread(bin, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    known = memmem(bin, (size_t)len, "__asan_init", 11) != NULL;
    free(bin);
    return known;
}

/* Latencies in ms: count, max, mean and percentiles. */
typedef struct tf_lat {
    int n;
    int64_t max, sum;
    int64_t all[8192];
} tf_lat;

TF_FN void tf_lat_add(tf_lat *l, int64_t ms)
{
    if (l->n < 8192) l->all[l->n] = ms;
    l->n++;
    l->sum += ms;
    if (ms > l->max) l->max = ms;
}

static int tf__cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of what was added. */
TF_FN int64_t tf_lat_pct(tf_lat *l, int p)
{
    int n = l->n < 8192 ? l->n : 8192;
    if (n == 0) return 0;
    qsort(l->all, (size_t)n, sizeof l->all[0], tf__cmp64);
    int i = (n * p) / 100;
    return l->all[i < n ? i : n - 1];
}

TF_FN int64_t tf_lat_mean(const tf_lat *l)
{
    return l->n ? l->sum / l->n : 0;
}

/* Write config/test-small.json with one setting added to the dispatcher
 * section (text such as "\"max_db_pages\": 60") to name; returns its path. */
TF_FN const char *tf_config_with(const char *name, const char *setting)
{
    char to[512];
    snprintf(to, sizeof to, "\"max_message\": 65536, %s", setting);
    return td_small_with(name, "\"max_message\": 65536", to);
}

#endif
