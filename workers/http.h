/* http.h — the handheld page of a station's worker (hotline-worker --http):
 * grid workers' phones read the unit's tickets from the worker's local store
 * and sign, note, finish, return and report through its outbox, exactly as
 * the console does, so what they do while the link is down waits as pending
 * and is sent when it returns. Uses the shared HTTP server (hotline/http.h). */
#ifndef HOTLINE_WORKER_HTTP_H
#define HOTLINE_WORKER_HTTP_H

#include "agent.h"

#include <uv.h>

typedef struct handheld handheld;

/* Serve the page on addr for agent a. token (may be NULL) is the bearer
 * token every API request must carry; without one only a loopback address
 * is accepted. Returns NULL and sets *err (caller frees). */
handheld *hh_new(uv_loop_t *loop, agent *a, const char *addr, const char *token, char **err);
/* Close the listener and connections (the loop must run for them to
 * finish). Nulls *h. */
void hh_destroy(handheld **h);
const char *hh_bound(const handheld *h);

#endif
