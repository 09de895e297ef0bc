/* zloop.c — the ZeroMQ-in-libuv glue: uv_poll on ZMQ_FD, ZMQ_EVENTS read
 * after every wake-up, and an idle handle that brings the callback back on
 * the next loop turn while messages remain. Owns no socket. */
#include "hotline/zloop.h"
#include "hotline/util.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct hl_zwatch {
    uv_poll_t poll;
    uv_idle_t idle;
    void *sock;
    hl_zwatch_cb cb;
    void *arg;
    int closing;
    int pending_close; /* handles still to close */
};

int hl_zsock_readable(void *zsock)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(zsock, ZMQ_EVENTS, &events, &len) != 0) return 0;
    return (events & ZMQ_POLLIN) != 0;
}

int hl_zmon_recv(void *mon, uint16_t *event, uint32_t *value)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    *event = 0;
    *value = 0;
    if (zmq_msg_size(&m) >= 6) {
        memcpy(event, zmq_msg_data(&m), 2);
        memcpy(value, (char *)zmq_msg_data(&m) + 2, 4);
    }
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    while (more) { /* the endpoint frame, already here with the first */
        zmq_msg_init(&m);
        more = zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return 0;
}

static void s_idle_cb(uv_idle_t *h);

static void s_run(hl_zwatch *w)
{
    if (w->closing) return;
    if (hl_zsock_readable(w->sock)) w->cb(w, w->sock, w->arg);
    if (w->closing) return;
    /* The callback sent and received: the edge may have passed while it ran,
     * so look again rather than wait for the fd. */
    if (hl_zsock_readable(w->sock))
        uv_idle_start(&w->idle, s_idle_cb);
}

static void s_idle_cb(uv_idle_t *h)
{
    hl_zwatch *w = h->data;
    uv_idle_stop(&w->idle);
    s_run(w);
}

static void s_poll_cb(uv_poll_t *h, int status, int events)
{
    (void)events;
    hl_zwatch *w = h->data;
    if (status < 0) hl_warn("zmq fd poll error: %s", uv_strerror(status));
    s_run(w);
}

void hl_zwatch_recheck(hl_zwatch *w)
{
    if (w && !w->closing && hl_zsock_readable(w->sock)) uv_idle_start(&w->idle, s_idle_cb);
}

hl_zwatch *hl_zwatch_new(uv_loop_t *loop, void *zsock, hl_zwatch_cb cb, void *arg)
{
#ifdef _WIN32
    SOCKET fd;
#else
    int fd;
#endif
    size_t len = sizeof fd;
    if (zmq_getsockopt(zsock, ZMQ_FD, &fd, &len) != 0) return NULL;
    hl_zwatch *w = hl_calloc(1, sizeof *w);
    w->sock = zsock;
    w->cb = cb;
    w->arg = arg;
    if (uv_poll_init_socket(loop, &w->poll, fd) != 0) {
        free(w);
        return NULL;
    }
    uv_idle_init(loop, &w->idle);
    w->poll.data = w;
    w->idle.data = w;
    uv_poll_start(&w->poll, UV_READABLE, s_poll_cb);
    /* messages may already be queued: the fd edge for them has passed */
    uv_idle_start(&w->idle, s_idle_cb);
    return w;
}

static void s_closed(uv_handle_t *h)
{
    hl_zwatch *w = h->data;
    if (--w->pending_close == 0) free(w);
}

void hl_zwatch_destroy(hl_zwatch **wp)
{
    hl_zwatch *w = *wp;
    if (!w) return;
    *wp = NULL;
    w->closing = 1;
    w->pending_close = 2;
    uv_poll_stop(&w->poll);
    uv_idle_stop(&w->idle);
    uv_close((uv_handle_t *)&w->poll, s_closed);
    uv_close((uv_handle_t *)&w->idle, s_closed);
}
