/* test_zloop.c — ZeroMQ sockets in a libuv loop: every queued message is
 * delivered in bounded batches, timers still run between batches, and a
 * message that arrives while the callback sends is not missed (edge). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hotline/zloop.h"

#include <string.h>
#include <zmq.h>

typedef struct {
    int received;
    int calls;
    int max_batch_seen;
    int timer_ticks_during;
    int want;
    void *peer; /* echo back through this socket when set */
    uv_loop_t *loop;
} counter;

static void s_on_readable(hl_zwatch *w, void *sock, void *arg)
{
    counter *c = arg;
    c->calls++;
    int n = 0;
    char buf[64];
    while (n < 10 && zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT) >= 0) {
        n++;
        c->received++;
    }
    if (n > c->max_batch_seen) c->max_batch_seen = n;
    if (c->received >= c->want) uv_stop(c->loop);
    (void)w;
}

/* A prepare handle runs once per loop turn, before the loop polls. */
static void s_tick(uv_prepare_t *t)
{
    counter *c = t->data;
    if (c->received > 0 && c->received < c->want) c->timer_ticks_during++;
}

static void s_timeout(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void test_batches_and_fairness(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *rx = zmq_socket(ctx, ZMQ_PULL), *tx = zmq_socket(ctx, ZMQ_PUSH);
    int hwm = 0;
    zmq_setsockopt(rx, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(tx, ZMQ_SNDHWM, &hwm, sizeof hwm);
    assert_int_equal(zmq_bind(rx, "inproc://zl"), 0);
    assert_int_equal(zmq_connect(tx, "inproc://zl"), 0);
    /* queued before the watch exists: the fd edge has already passed */
    for (int i = 0; i < 2000; i++) assert_int_equal(zmq_send(tx, "m", 1, 0), 1);

    uv_loop_t loop;
    uv_loop_init(&loop);
    counter c = {.want = 2000, .loop = &loop};
    hl_zwatch *w = hl_zwatch_new(&loop, rx, s_on_readable, &c);
    assert_non_null(w);
    uv_prepare_t tick;
    uv_timer_t guard;
    uv_prepare_init(&loop, &tick);
    tick.data = &c;
    uv_prepare_start(&tick, s_tick);
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, s_timeout, 5000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);

    assert_int_equal(c.received, 2000);
    assert_int_equal(c.max_batch_seen, 10);
    assert_true(c.calls >= 200);
    assert_true(c.timer_ticks_during >= 100); /* the loop turned between batches */

    /* later messages arrive through the fd as usual */
    c.want = 2005;
    for (int i = 0; i < 5; i++) zmq_send(tx, "n", 1, 0);
    uv_timer_start(&guard, s_timeout, 5000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.received, 2005);

    hl_zwatch_destroy(&w);
    assert_null(w);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    zmq_close(rx);
    zmq_close(tx);
    zmq_ctx_term(ctx);
}

/* A request/reply ping-pong driven entirely from callbacks: each reply is
 * sent from inside the callback, which can swallow the next edge. */
typedef struct {
    int rounds;
    uv_loop_t *loop;
    void *client;
    hl_zwatch *cw;
} pingpong;

static void s_server(hl_zwatch *w, void *sock, void *arg)
{
    char buf[16];
    int n;
    while ((n = zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0) zmq_send(sock, buf, (size_t)n, 0);
    hl_zwatch_recheck(w);
    (void)arg;
}

static void s_client(hl_zwatch *w, void *sock, void *arg)
{
    pingpong *p = arg;
    char buf[16];
    while (zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT) >= 0) {
        if (++p->rounds == 1000) {
            uv_stop(p->loop);
            return;
        }
        zmq_send(sock, "p", 1, 0);
    }
    hl_zwatch_recheck(w);
}

static void test_pingpong(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *srv = zmq_socket(ctx, ZMQ_PAIR), *cli = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(srv, "inproc://pp"), 0);
    assert_int_equal(zmq_connect(cli, "inproc://pp"), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    pingpong p = {.loop = &loop, .client = cli};
    hl_zwatch *ws = hl_zwatch_new(&loop, srv, s_server, NULL);
    hl_zwatch *wc = hl_zwatch_new(&loop, cli, s_client, &p);
    zmq_send(cli, "p", 1, 0);
    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, s_timeout, 10000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(p.rounds, 1000);
    hl_zwatch_destroy(&ws);
    hl_zwatch_destroy(&wc);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    zmq_close(srv);
    zmq_close(cli);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_and_fairness),
        cmocka_unit_test(test_pingpong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
