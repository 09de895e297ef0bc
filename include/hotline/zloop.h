/* hotline/zloop.h — ZeroMQ sockets inside a libuv loop. A watch polls the
 * socket's ZMQ_FD with uv_poll (readable only) and calls back while
 * ZMQ_EVENTS says a message waits. The fd is edge-triggered: after every
 * send or receive made outside the callback, call hl_zwatch_recheck(). A
 * callback handles a bounded batch and returns; if more is waiting the watch
 * comes back on the next loop turn, so timers and other sockets are served. */
#ifndef HOTLINE_ZLOOP_H
#define HOTLINE_ZLOOP_H

#include <stdint.h>
#include <uv.h>

typedef struct hl_zwatch hl_zwatch;

/* Called when the socket has at least one message to read. The callback
 * reads at most its batch; it must not destroy the watch. */
typedef void (*hl_zwatch_cb)(hl_zwatch *w, void *sock, void *arg);

/* Start watching zsock (not owned). Returns NULL if ZMQ_FD fails. */
hl_zwatch *hl_zwatch_new(uv_loop_t *loop, void *zsock, hl_zwatch_cb cb, void *arg);
/* Re-read ZMQ_EVENTS; if a message waits, schedule the callback. */
void hl_zwatch_recheck(hl_zwatch *w);
/* Stop and free (asynchronously through uv_close); nulls *w. The socket is
 * the caller's to close afterwards. */
void hl_zwatch_destroy(hl_zwatch **w);

/* 1 when ZMQ_EVENTS has ZMQ_POLLIN. */
int hl_zsock_readable(void *zsock);
/* Take one event of a socket monitor (zmq_socket_monitor) without waiting,
 * its endpoint frame dropped: 0 with *event and *value, -1 when none waits. */
int hl_zmon_recv(void *mon, uint16_t *event, uint32_t *value);

#endif
