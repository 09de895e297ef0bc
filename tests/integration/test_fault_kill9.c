/* test_fault_kill9.c — kill -9 of the dispatcher under load from several
 * clients that retry with idem: each client keeps a window of creates in
 * flight, resends what got no answer (or an internal error, or "say hello
 * again" after a restart) with the same idempotency key, and checks that
 * a repeated answer names the same ticket. The dispatcher is killed twice
 * mid-stream and restarted on the same database. In the end every create
 * made exactly one ticket, each acknowledged one the ticket it was told,
 * nothing is half-made and the event log has no gap. */
#include "test_fault.h"

#include <signal.h>

#define NK 4       /* clients */
#define PER 1200   /* creates each */
#define WINDOW 32  /* in flight per client */
#define RETRY_MS 1500

typedef struct client {
    th_client *c;
    int next;                 /* next marker never sent */
    int64_t sent_at[PER];     /* 0: not in flight */
    int64_t acked[PER];       /* ticket id once acknowledged */
    int queue[PER], nqueue;   /* markers to resend */
    int64_t hello_at;
    int resent, replays;
} client;

static client s_cl[NK];

static void s_send(client *cl, int k, int i)
{
    const char *req = tf_create_req(k, i, NULL);
    th_send_raw(cl->c, req, strlen(req));
    cl->sent_at[i] = th_mono_ms();
}

static void s_hello(client *cl)
{
    int64_t now = th_mono_ms();
    if (now - cl->hello_at < 100) return;
    cl->hello_at = now;
    const char *h = "{\"v\":1,\"id\":\"hello\",\"op\":\"hello\",\"role\":\"operator\"}";
    th_send_raw(cl->c, h, strlen(h));
}

static int s_in_flight(const client *cl)
{
    int n = 0;
    for (int i = 0; i < cl->next; i++)
        n += cl->sent_at[i] != 0;
    return n;
}

static void s_take(client *cl, int k, cJSON *r)
{
    int kk, i;
    const char *re = th_gets(r, "re");
    if (!tf_re(re, &kk, &i) || kk != k || i < 0 || i >= PER) {
        cJSON_Delete(r); /* a hello's answer */
        return;
    }
    if (th_is_ok(r)) {
        int64_t id = th_geti(r, "ticket.id");
        assert_true(id > 0);
        if (cl->acked[i] && cl->acked[i] != id)
            fail_msg("m%d-%d was acknowledged as ticket %lld, then as %lld", k, i,
                     (long long)cl->acked[i], (long long)id);
        if (cl->acked[i]) cl->replays++;
        cl->acked[i] = id;
        cl->sent_at[i] = 0;
    } else {
        const char *code = th_err_code(r);
        if (!code || (strcmp(code, "forbidden") != 0 && strcmp(code, "internal") != 0))
            fail_msg("m%d-%d refused: %s", k, i, th_gets(r, "error.message"));
        if (strcmp(code, "forbidden") == 0) s_hello(cl); /* a new dispatcher */
        if (!cl->acked[i] && cl->sent_at[i]) {
            cl->sent_at[i] = 0;
            cl->queue[cl->nqueue++] = i;
        }
    }
    cJSON_Delete(r);
}

/* One round: top up windows, resend the unanswered, take replies. */
static void s_round(int wait_ms)
{
    int64_t now = th_mono_ms();
    for (int k = 0; k < NK; k++) {
        client *cl = &s_cl[k];
        for (int i = 0; i < cl->next; i++)
            if (cl->sent_at[i] && now - cl->sent_at[i] > RETRY_MS && !cl->acked[i]) {
                cl->sent_at[i] = 0;
                cl->queue[cl->nqueue++] = i;
            }
        while (cl->nqueue > 0 && s_in_flight(cl) < WINDOW) {
            int i = cl->queue[--cl->nqueue];
            if (cl->acked[i]) continue;
            s_send(cl, k, i);
            cl->resent++;
        }
        while (cl->next < PER && s_in_flight(cl) < WINDOW)
            s_send(cl, k, cl->next++);
    }
    for (int k = 0; k < NK; k++) {
        cJSON *r;
        while ((r = th_recv_reply(s_cl[k].c, k == 0 ? wait_ms : 0)) != NULL)
            s_take(&s_cl[k], k, r);
    }
}

static int s_acked(void)
{
    int n = 0;
    for (int k = 0; k < NK; k++)
        for (int i = 0; i < PER; i++)
            n += s_cl[k].acked[i] != 0;
    return n;
}

static void test_kill9_with_retrying_clients(void **state)
{
    memset(s_cl, 0, sizeof s_cl);
    th_disp d = {0};
    char config[512], db[512];
    snprintf(config, sizeof config, "%s", th_src("config/test-small.json"));
    snprintf(db, sizeof db, "%s", th_path("k9/hotline.db"));
    th_disp_start(&d, config, db, NULL);
    for (int k = 0; k < NK; k++)
        s_cl[k].c = th_client_new(d.front, "operator", NULL);

    int kills = 0;
    int64_t t0 = th_mono_ms(), end = t0 + 180000;
    while (s_acked() < NK * PER && th_mono_ms() < end) {
        s_round(5);
        int acked = s_acked();
        if ((kills == 0 && acked >= NK * PER / 3) || (kills == 1 && acked >= 2 * NK * PER / 3)) {
            th_disp_kill9(&d);
            kills++;
            print_message("# SIGKILL %d at %d acknowledged\n", kills, acked);
            /* the clients go on sending into the void for a moment */
            int64_t until = th_mono_ms() + 300;
            while (th_mono_ms() < until)
                s_round(5);
            th_disp_start(&d, config, db, NULL);
        }
    }
    int resent = 0, replays = 0;
    for (int k = 0; k < NK; k++) {
        resent += s_cl[k].resent;
        replays += s_cl[k].replays;
    }
    print_message("# %d creates by %d clients acknowledged in %lld ms through %d SIGKILLs; %d "
                  "resent, %d answered twice (same ticket)\n",
                  s_acked(), NK, (long long)(th_mono_ms() - t0), kills, resent, replays);
    assert_int_equal(kills, 2);
    assert_int_equal(s_acked(), NK * PER);
    assert_true(resent > 0);

    /* exactly once, as acknowledged */
    th_client *mgr = th_client_new(d.front, "manager", NULL);
    static int counts[NK * PER];
    int total = tf_census(mgr, NK, PER, counts);
    assert_int_equal(total, NK * PER);
    for (int k = 0; k < NK; k++)
        for (int i = 0; i < PER; i++)
            if (counts[k * PER + i] != 1)
                fail_msg("m%d-%d made %d tickets", k, i, counts[k * PER + i]);
    cJSON *r = th_ok(mgr, "list", "{\"limit\":1}");
    assert_int_equal(th_geti(r, "tickets.0.id"), NK * PER); /* ids 1..n, none lost */
    cJSON_Delete(r);
    for (int k = 0; k < NK; k++)
        for (int i = 0; i < PER; i += 97) {
            char *desc = td_field(mgr, s_cl[k].acked[i], "ticket.description");
            int kk, ii;
            assert_true(tf_marker(desc, &kk, &ii));
            assert_int_equal(kk, k);
            assert_int_equal(ii, i);
            free(desc);
        }
    int created;
    tf_check_log(mgr, &created);
    assert_int_equal(created, NK * PER);

    th_client_destroy(&mgr);
    for (int k = 0; k < NK; k++)
        th_client_destroy(&s_cl[k].c);
    assert_int_equal(th_disp_stop(&d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_with_retrying_clients),
    };
    return TH_MAIN("fault_kill9", tests);
}
