/* fuzz_envelope.c — libFuzzer harness for the request envelope decoder:
 * any bytes must give HL_OK or an error with a message, never a crash, and
 * a reply built from the outcome must itself parse. */
#include "hotline/proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hl_request req;
    char msg[256] = "";
    hl_err e = hl_request_parse(data, size, 4096, &req, msg, sizeof msg);
    char *reply;
    if (e == HL_OK) {
        if (!req.id || !req.op || !req.spec) abort();
        reply = hl_reply_ok(req.id, NULL);
    } else {
        if (!msg[0]) abort(); /* every refusal says why */
        reply = hl_reply_error(req.id, e, msg);
    }
    hl_reply rep;
    if (hl_reply_parse(reply, strlen(reply), &rep) != 0) abort();
    if (rep.ok != (e == HL_OK)) abort();
    hl_reply_free(&rep);
    free(reply);
    hl_request_free(&req);
    return 0;
}
