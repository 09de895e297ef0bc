/* test_fault.h — helpers shared by the fault tests (test_fault_*.c): tickets
 * marked in their description so a census can count each one, the event
 * log checked for gaps, a process's resident memory. Header-only: each test
 * is one binary. */
#ifndef HOTLINE_TEST_FAULT_H
#define HOTLINE_TEST_FAULT_H

#include "test_dispatcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define TF_FN static __attribute__((unused))

/* A create request for the marked ticket "mK-I" with idem "mK-I" (and the
 * same request id), to be sent raw; desc_pad is repeated into the
 * description (NULL for none). Returns a static buffer. */
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

/* Count the tickets of each marker (counts[k * per + i]), paging through
 * list as mgr; also checks that no ticket is half-made. Returns the total. */
TF_FN int tf_census(th_client *mgr, int nk, int per, int *counts)
{
    int total = 0;
    int64_t after = 0;
    memset(counts, 0, (size_t)nk * (size_t)per * sizeof *counts);
    for (;;) {
        cJSON *r = after ? th_ok(mgr, "list", "{\"limit\":1000,\"after\":%lld}", (long long)after)
                         : th_ok(mgr, "list", "{\"limit\":1000}");
        const cJSON *t;
        cJSON_ArrayForEach(t, th_get(r, "tickets"))
        {
            int k, i;
            if (!tf_marker(th_gets(t, "description"), &k, &i) || k < 0 || k >= nk || i < 0 ||
                i >= per)
                fail_msg("a ticket without a marker: %s", th_gets(t, "description"));
            counts[k * per + i]++;
            /* routed, numbered, with deadlines: nothing half-made */
            if (!th_gets(t, "no") || !th_gets(t, "lead") || !th_gets(t, "finish_due"))
                fail_msg("ticket %lld is half-made", (long long)th_geti(t, "id"));
            total++;
        }
        const cJSON *next = th_get(r, "next");
        after = cJSON_IsNumber(next) ? (int64_t)next->valuedouble : 0;
        cJSON_Delete(r);
        if (!after) return total;
    }
}

/* The event log from seq 1 without a gap; returns how many events it
 * holds and (when created is given) how many are "created". */
TF_FN int tf_check_log(th_client *mgr, int *created)
{
    int64_t after = 0, expect = 1;
    int n = 0, c = 0;
    for (;;) {
        cJSON *r = th_ok(mgr, "events", "{\"after\":%lld,\"limit\":1000}", (long long)after);
        const cJSON *ev;
        int k = 0;
        cJSON_ArrayForEach(ev, th_get(r, "events"))
        {
            if (th_geti(ev, "seq") != expect)
                fail_msg("event log gap: seq %lld where %lld was due",
                         (long long)th_geti(ev, "seq"), (long long)expect);
            const char *kind = th_gets(ev, "kind");
            c += kind && strcmp(kind, "created") == 0;
            expect++;
            k++;
        }
        after = th_geti(r, "last");
        cJSON_Delete(r);
        n += k;
        if (k == 0) break;
    }
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

/* Write config/test-small.json with one setting added to the dispatcher
 * section (text such as "\"max_db_pages\": 60") to name; returns its path. */
TF_FN const char *tf_config_with(const char *name, const char *setting)
{
    char to[512];
    snprintf(to, sizeof to, "\"max_message\": 65536, %s", setting);
    return td_small_with(name, "\"max_message\": 65536", to);
}

#endif
