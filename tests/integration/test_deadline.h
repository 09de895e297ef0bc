/* test_deadline.h — helpers shared by the deadline engine's integration
 * tests (test_deadline_*.c): a city whose SLAs are seconds long, written by
 * the test; a log of the alerts seen on the events socket, searched by
 * ticket, stage, level and tier; and the lag of an alert after its
 * threshold. Header-only: each test is one binary. */
#ifndef HOTLINE_TEST_DEADLINE_H
#define HOTLINE_TEST_DEADLINE_H

#include "test_dispatcher.h"

#include "hotline/util.h"

#include <time.h>

/* Units t (city) > t.a (town) > t.a.g1 (grid), t > t.b > t.b.g1, t >
 * t.water. Categories (grid handling unless said):
 *   esc     sign 1s, finish 60s, warn 0.5   (escalation of the sign stage)
 *   slow    sign 2s, finish 60s, warn 0.5   (signing before the yellow)
 *   fin     sign 60s, finish 2s, warn 0.5   (the finish stage, extensions)
 *   k9      sign 4s, finish 60s, warn 0.25  (kill -9 between yellow and red)
 *   quick   sign 1s, finish 2s, warn 0.5    (late work in the stats)
 *   easy    the urgency default (4h / 5wd)
 *   water   department t.water, default SLA
 * Extensions: at most 6s in all and 2 approved per dispatch. */
static const char s_dl_config[] =
    "{\"name\": \"时限测试市\", \"timezone\": \"Asia/Shanghai\","
    " \"dispatcher\": {\"front\": \"tcp://127.0.0.1:*\", \"events\": \"tcp://127.0.0.1:*\","
    "   \"heartbeat\": \"5s\", \"http\": \"-\"},"
    " \"extension\": {\"max\": \"6s\", \"times\": 2},"
    " \"units\": ["
    "  {\"id\": \"t\", \"name\": \"测试市\", \"level\": \"city\"},"
    "  {\"id\": \"t.a\", \"name\": \"甲镇\", \"level\": \"town\", \"parent\": \"t\"},"
    "  {\"id\": \"t.a.g1\", \"name\": \"甲镇一网格\", \"level\": \"grid\", \"parent\": \"t.a\"},"
    "  {\"id\": \"t.b\", \"name\": \"乙镇\", \"level\": \"town\", \"parent\": \"t\"},"
    "  {\"id\": \"t.b.g1\", \"name\": \"乙镇一网格\", \"level\": \"grid\", \"parent\": \"t.b\"},"
    "  {\"id\": \"t.water\", \"name\": \"水务\", \"level\": \"department\", \"parent\": \"t\"}],"
    " \"cells\": ["
    "  {\"id\": \"C-A1\", \"name\": \"甲1\", \"unit\": \"t.a.g1\", \"polygon\": [[100.0, 30.0],"
    "   [100.01, 30.0], [100.01, 30.01], [100.0, 30.01], [100.0, 30.0]]},"
    "  {\"id\": \"C-B1\", \"name\": \"乙1\", \"unit\": \"t.b.g1\", \"polygon\": [[100.02, 30.0],"
    "   [100.03, 30.0], [100.03, 30.01], [100.02, 30.01], [100.02, 30.0]]}],"
    " \"categories\": ["
    "  {\"code\": \"esc\", \"name\": \"升级\", \"handling\": \"grid\","
    "   \"sla\": {\"sign\": \"1s\", \"finish\": \"60s\", \"warn\": 0.5}},"
    "  {\"code\": \"slow\", \"name\": \"慢签\", \"handling\": \"grid\","
    "   \"sla\": {\"sign\": \"2s\", \"finish\": \"60s\", \"warn\": 0.5}},"
    "  {\"code\": \"fin\", \"name\": \"办结\", \"handling\": \"grid\","
    "   \"sla\": {\"sign\": \"60s\", \"finish\": \"2s\", \"warn\": 0.5}},"
    "  {\"code\": \"k9\", \"name\": \"重启\", \"handling\": \"grid\","
    "   \"sla\": {\"sign\": \"4s\", \"finish\": \"60s\", \"warn\": 0.25}},"
    "  {\"code\": \"quick\", \"name\": \"快\", \"handling\": \"grid\","
    "   \"sla\": {\"sign\": \"1s\", \"finish\": \"2s\", \"warn\": 0.5}},"
    "  {\"code\": \"easy\", \"name\": \"常规\", \"handling\": \"grid\"},"
    "  {\"code\": \"water\", \"name\": \"停水\", \"handling\": \"department\","
    "   \"department\": \"t.water\"}],"
    " \"assessment\": {\"weights\": {\"sign_rate\": 0.2, \"finish_rate\": 0.4,"
    "   \"satisfaction\": 0.4}}}";

/* Start a dispatcher on that city, with a database of its own. */
static inline void dl_start(th_disp *d)
{
    static int n;
    char db[64];
    snprintf(db, sizeof db, "dl%d/hotline.db", ++n);
    memset(d, 0, sizeof *d);
    th_disp_start(d, th_write("deadline.json", s_dl_config), th_path(db), NULL);
}

/* The dispatcher a test file shares, with cmocka's setup (dl_start) and
 * teardown (it must stop cleanly) for it. */
static th_disp dl_d __attribute__((unused));

static __attribute__((unused)) int dl_setup(void **state)
{
    dl_start(&dl_d);
    return 0;
}

static __attribute__((unused)) int dl_teardown(void **state)
{
    assert_int_equal(th_disp_stop(&dl_d), 0);
    return 0;
}

/* Wall-clock now in ms (the dispatcher runs on the same clock). */
static inline int64_t dl_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The sanitizer build runs several times slower: allow it more lag. */
static inline int64_t dl_lag_limit_ms(void)
{
    const char *bin = getenv("HOTLINE_BIN");
    return bin && strstr(bin, "/san/") ? 2500 : 1500;
}

/* Alerts seen on the events socket, in arrival order. */
#define DL_MAX_ALERTS 256
typedef struct dl_log {
    th_sub *sub;
    cJSON *alerts[DL_MAX_ALERTS];
    int64_t seen_at[DL_MAX_ALERTS]; /* wall ms when received */
    int n;
} dl_log;

static inline void dl_log_init(dl_log *l, const char *events)
{
    memset(l, 0, sizeof *l);
    l->sub = th_sub_new(events, "alert.");
}

static inline void dl_log_free(dl_log *l)
{
    for (int i = 0; i < l->n; i++)
        cJSON_Delete(l->alerts[i]);
    th_sub_destroy(&l->sub);
    l->n = 0;
}

/* Forget the alerts seen so far (the subscription stays). */
static inline void dl_log_clear(dl_log *l)
{
    for (int i = 0; i < l->n; i++)
        cJSON_Delete(l->alerts[i]);
    l->n = 0;
}

/* Receive what arrives within ms. */
static inline void dl_pump(dl_log *l, int ms)
{
    int64_t end = th_mono_ms() + ms;
    for (;;) {
        int64_t left = end - th_mono_ms();
        cJSON *a = th_sub_wait(l->sub, "alert.", left > 0 ? (int)left : 0);
        if (!a) return;
        if (l->n == DL_MAX_ALERTS) fail_msg("more than %d alerts", DL_MAX_ALERTS);
        l->seen_at[l->n] = dl_wall_ms();
        l->alerts[l->n++] = a;
    }
}

/* How many alerts of ticket no match stage, level and tier (NULL / -1 for
 * any); *first receives the index of the first match. */
static inline int dl_count(const dl_log *l, const char *no, const char *stage, const char *level,
                           int tier, int *first)
{
    int n = 0;
    for (int i = 0; i < l->n; i++) {
        const cJSON *a = l->alerts[i];
        if (no && !hl_streq(th_gets(a, "ticket.no"), no)) continue;
        if (stage && !hl_streq(th_gets(a, "stage"), stage)) continue;
        if (level && !hl_streq(th_gets(a, "level"), level)) continue;
        if (tier >= 0 && th_geti(a, "tier") != tier) continue;
        if (n++ == 0 && first) *first = i;
    }
    return n;
}

/* Wait up to ms for an alert of ticket no; returns it (owned by the log). */
static inline const cJSON *dl_wait(dl_log *l, const char *no, const char *stage, const char *level,
                                   int tier, int ms)
{
    int64_t end = th_mono_ms() + ms;
    int at = -1;
    while (dl_count(l, no, stage, level, tier, &at) == 0) {
        int64_t left = end - th_mono_ms();
        if (left <= 0)
            fail_msg("no %s %s alert of tier %d for %s within %d ms", stage ? stage : "any",
                     level ? level : "any", tier, no, ms);
        cJSON *a = th_sub_wait(l->sub, "alert.", (int)left);
        if (!a) continue;
        if (l->n == DL_MAX_ALERTS) fail_msg("more than %d alerts", DL_MAX_ALERTS);
        l->seen_at[l->n] = dl_wall_ms();
        l->alerts[l->n++] = a;
    }
    return l->alerts[at];
}

/* Index of an alert object in the log. */
static inline int dl_index(const dl_log *l, const cJSON *a)
{
    for (int i = 0; i < l->n; i++)
        if (l->alerts[i] == a) return i;
    return -1;
}

/* create a ticket of category in cell with a caller phone; returns the
 * reply's ticket (caller frees). */
static inline cJSON *dl_create(th_client *op, const char *category, const char *cell,
                               const char *phone)
{
    cJSON *r = th_ok(op, "create",
                     "{\"ticket\":{\"category\":\"%s\",\"description\":\"时限测试 %s\","
                     "\"caller\":{\"phone\":\"%s\"},\"location\":{\"cell\":\"%s\"}}}",
                     category, phone, phone, cell);
    cJSON *t = cJSON_DetachItemFromObject(r, "ticket");
    cJSON_Delete(r);
    return t;
}

typedef struct dl__listed {
    const char *no;
    cJSON **out;
    int max, n;
} dl__listed;

static inline void dl__keep_alert(const cJSON *a, void *arg)
{
    dl__listed *l = arg;
    if (!hl_streq(th_gets(a, "ticket.no"), l->no) || l->n >= l->max) return;
    l->out[l->n++] = cJSON_Duplicate(a, 1);
}

/* The alerts of ticket no in the alerts op (as a manager), oldest first. */
static inline int dl_listed(th_client *mgr, const char *no, cJSON **out, int max)
{
    dl__listed l = {no, out, max, 0};
    td_each_item(mgr, "alerts", "alerts", NULL, dl__keep_alert, &l);
    int n = l.n;
    /* newest first on the wire: turn them around */
    for (int i = 0; i < n / 2; i++) {
        cJSON *tmp = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = tmp;
    }
    return n;
}

#endif
