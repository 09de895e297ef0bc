/* open311.h — Open311 GeoReport v2 at /open311/v2/: discovery, services
 * (the categories), service definitions, posting a request (a ticket) and
 * reading requests, in JSON and XML (protocol/OPEN311.md has the mapping).
 * Runs every read and change through core (web_call). */
#ifndef HOTLINE_OPEN311_H
#define HOTLINE_OPEN311_H

#include "web.h"

typedef struct open311 open311;

/* Route /open311/v2/ on w's HTTP server. */
open311 *open311_new(web *w);
void open311_destroy(open311 **o);

/* An error body in GeoReport's format for path (XML when the path ends in
 * .xml, else JSON): [{"code":404,"description":"…"}]. Caller frees. */
char *open311_error_body(const char *path, int status, const char *message, const char **ctype);

#endif
