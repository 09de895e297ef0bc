/* server.h — the dispatcher's loop: the ROUTER front socket, the PUB events
 * socket, group commit of each batch of requests, heartbeats and signals,
 * all on one libuv loop. */
#ifndef HOTLINE_SERVER_H
#define HOTLINE_SERVER_H

#include "auth.h"
#include "core.h"

#include "hotline/config.h"

#include <uv.h>

typedef struct server server;

/* Requests read per loop turn and committed together. */
#define SERVER_BATCH 512
/* ... or for at most this long (ms), so that no client's requests wait long
 * behind another's flood. */
#ifndef SERVER_BATCH_MS
#define SERVER_BATCH_MS 20
#endif
/* Events queued per subscriber before the events socket drops them (about
 * 5 MB of typical events): a subscriber that stops reading costs bounded
 * memory and never slows the dispatcher. */
#define SERVER_EVENTS_HWM 10000

/* Bind both sockets. With a (secure mode) the ZAP handler starts first and
 * both sockets speak CURVE; SIGHUP then reloads the keys file. Returns
 * NULL and sets *err (caller frees) when an endpoint cannot be bound. cfg,
 * c and a are borrowed. */
server *server_new(uv_loop_t *loop, const hl_config *cfg, core *c, auth *a, const char *front,
                   const char *events, char **err);
/* Serve until SIGTERM or SIGINT; returns 0 after a clean stop. */
int server_run(server *sv);
void server_destroy(server **sv);

/* Requests from inside the process (the HTTP front ends, web.c) run
 * through core in batches of their own: core_begin, core_handle_as with
 * server_outq(), core_commit, then server_flush() publishes the events and
 * sends the pushes the batch made (after its commit, as for the front
 * socket). */
core *server_core(server *sv);
core_outq *server_outq(server *sv);
void server_flush(server *sv);
/* fn sees every event as it is published (topic, JSON), after its commit. */
void server_on_event(server *sv, void (*fn)(const char *topic, const char *json, void *arg),
                     void *arg);

/* Reads that leave the loop (core_set_defer): the server runs each job
 * with core_job_run on reader (borrowed; one job at a time, in order, on
 * libuv's thread pool) and calls done on the loop with the reply text
 * (done frees it). A job's reply to the front socket goes to its peer;
 * server_run_job is for the jobs of the HTTP front ends' batches. Without
 * a reader (the default) core answers in place and makes no job. */
void server_set_reader(server *sv, store *reader);
typedef void (*server_job_fn)(char *text, void *arg);
void server_run_job(server *sv, core_job *job, server_job_fn done, void *arg);

/* 1 when a ZeroMQ endpoint stays on this machine (loopback TCP, ipc,
 * inproc), which is all that is allowed without CURVE. */
int server_endpoint_local(const char *endpoint);

#endif
