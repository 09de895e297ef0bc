/* auth.h — secure mode (DESIGN §8): the dispatcher's CURVE key pair, the
 * keys file that maps client public keys to principals, and the ZAP
 * handler that admits or refuses each client at the CURVE handshake. The
 * handler is a REP socket on inproc://zeromq.zap.01 in the server's
 * ZeroMQ context, served by the same libuv loop; it must be running before
 * either socket binds, or libzmq would admit every key. */
#ifndef HOTLINE_AUTH_H
#define HOTLINE_AUTH_H

#include "core.h"

#include "hotline/config.h"
#include "hotline/curve.h"

#include <uv.h>

typedef struct auth auth;

/* The ZAP domains of the two sockets: the handler admits workers on the
 * front socket only (they read their unit's feed through inbox; the event
 * stream covers every unit). */
#define AUTH_DOMAIN_FRONT "hotline.front"
#define AUTH_DOMAIN_EVENTS "hotline.events"

/* Load the secret key (security.secret_key, mode 0600) and the keys file
 * (security.clients), validated against cfg's units. Returns NULL and sets
 * *err (caller frees; one reason per line) when either is unusable. cfg is
 * borrowed and must outlive the auth. */
auth *auth_new(const hl_config *cfg, char **err);
void auth_destroy(auth **a);

/* The dispatcher's public key (Z85), to give to every client. */
const char *auth_public_key(const auth *a);
/* Number of client keys admitted. */
int auth_count(const auth *a);
/* A line for logs and --check: "12 client keys: 2 managers, 4 operators, 6 workers". */
void auth_summary(const auth *a, char *buf, size_t size);

/* Start the ZAP handler in zctx, watched on loop. 0, or -1 with *err. */
int auth_start(auth *a, void *zctx, uv_loop_t *loop, char **err);
/* Stop answering, so the loop can end: handshakes still in progress wait,
 * and none is admitted. */
void auth_stop(auth *a);
/* Close the handler's socket, after the CURVE sockets are closed (libzmq
 * admits every key while no handler listens) and before the context
 * terminates. */
void auth_close(auth *a);

/* Make a server socket speak CURVE with the dispatcher's secret key and
 * ask the ZAP handler about every client, in domain. 0, or -1 with *err. */
int auth_secure_socket(const auth *a, void *zsock, const char *domain, char **err);

/* Log handshakes on zsock that fail before the handler is asked (a client
 * without CURVE, or with the wrong server key), at most once a minute.
 * 0, or -1 when libzmq cannot monitor (the socket works all the same). */
int auth_monitor(auth *a, void *zctx, uv_loop_t *loop, void *zsock, const char *domain);

/* The principal of a client key (Z85, as ZAP gave it as User-Id), or NULL
 * when the key is not admitted (any more). Valid until the next reload. */
const core_principal *auth_lookup(const auth *a, const char *key);

/* Read the keys file again. On success the new table replaces the old one,
 * *dropped (may be NULL) is set when a key was removed or its principal
 * changed, and a summary is logged. On failure the old table stays and
 * *err says why. */
int auth_reload(auth *a, int *dropped, char **err);

#endif
