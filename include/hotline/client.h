/* hotline/client.h — a small synchronous client of the dispatcher's front
 * socket: one DEALER, hello once per connection, one request at a time with
 * a per-try timeout. A try that times out is abandoned with its socket (so a
 * late reply cannot be mistaken for the next one) and retried on a new
 * socket with the same id and the same idem, so a slow link never applies a
 * state change twice. For consoles, scripts, tests and benchmarks; the
 * dispatcher and the worker have their own event-loop sessions. */
#ifndef HOTLINE_CLIENT_H
#define HOTLINE_CLIENT_H

#include "hotline/curve.h"
#include "hotline/proto.h"

typedef struct hl_client hl_client;

#define HL_CLIENT_TIMEOUT_DEFAULT 3000 /* ms per try */
#define HL_CLIENT_TRIES_DEFAULT 3

/* A client of the front socket at endpoint, saying hello as role (with unit
 * for a worker; NULL otherwise) and name (may be NULL). Nothing is sent
 * until the first call. Never returns NULL. */
hl_client *hl_client_new(const char *endpoint, const char *role, const char *unit,
                         const char *name);
/* Close the socket (linger 0) and free; nulls *c. */
void hl_client_destroy(hl_client **c);

/* Secure mode: speak CURVE with these keys (copied) on every socket from
 * now on; NULL goes back to plain connections. */
void hl_client_set_curve(hl_client *c, const hl_curve_keys *keys);

/* Per-try timeout in ms (≥ 1) and the number of tries (≥ 1). Between tries
 * the client waits 100 ms, doubling up to 1 s. */
void hl_client_set_timeout(hl_client *c, int timeout_ms, int tries);

/* Send op with args (consumed; NULL for none) and wait for its reply.
 * For an op that changes state (hl_op_find(op)->mutates) the request
 * carries idem: the one given, or a fresh random one, the same on every try.
 * Returns 0 with *rep filled — ok or refused, see rep->ok — or -1 when no
 * reply came after every try (the socket is then closed; a later call starts
 * afresh). A refused hello is returned as the reply. Pushes that arrive in
 * the meantime are dropped. */
int hl_client_call(hl_client *c, const char *op, cJSON *args, const char *idem, hl_reply *rep);

/* The text of the last reply exactly as it came (NUL-terminated), or NULL.
 * Valid until the next call. */
const char *hl_client_raw(const hl_client *c);
/* Why the last call got no reply, when the handshake said more than
 * silence: the dispatcher refused this client's key, CURVE is on one side
 * only, or the server key looks wrong. NULL otherwise. A refused key or a
 * CURVE mismatch ends the call at once, without the remaining tries. */
const char *hl_client_error(const hl_client *c);
/* The endpoint and the tries of the last failed call, for messages. */
const char *hl_client_endpoint(const hl_client *c);
int hl_client_tries(const hl_client *c);
/* The hello reply of the current connection (server, heartbeat_ms, time),
 * or NULL before the first successful hello. Borrowed. */
const cJSON *hl_client_hello(const hl_client *c);

/* A fresh random idem key: 32 hex characters and a NUL. */
void hl_client_new_idem(char out[33]);

#endif
