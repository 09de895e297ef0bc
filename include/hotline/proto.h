/* hotline/proto.h — the wire protocol, version 1: request envelope parsing
 * and validation against the op table, replies, pushes, error codes.
 * The authoritative description is protocol/PROTOCOL.md. */
#ifndef HOTLINE_PROTO_H
#define HOTLINE_PROTO_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define HL_PROTO_VERSION 1
#define HL_MAX_MESSAGE_DEFAULT 65536
#define HL_ID_MAX 64
#define HL_IDEM_MAX 64
#define HL_DESCRIPTION_MAX 4000

typedef enum hl_err {
    HL_OK = 0,
    HL_E_BAD_REQUEST,
    HL_E_UNSUPPORTED_VERSION,
    HL_E_UNKNOWN_OP,
    HL_E_FORBIDDEN,
    HL_E_NOT_FOUND,
    HL_E_CONFLICT,
    HL_E_UNKNOWN_UNIT,
    HL_E_UNKNOWN_CATEGORY,
    HL_E_UNKNOWN_CELL,
    HL_E_TOO_LARGE,
    HL_E_INTERNAL,
    HL_E__COUNT
} hl_err;

/* The wire code ("bad_request") of an error. */
const char *hl_err_code(hl_err e);
/* A generic sentence for an error, for people. */
const char *hl_strerror(hl_err e);
/* The error for a wire code, or HL_E__COUNT when unknown. */
hl_err hl_err_from_code(const char *code);

/* Roles, as bits so an op can name who may call it. */
enum { HL_ROLE_OPERATOR = 1, HL_ROLE_MANAGER = 2, HL_ROLE_WORKER = 4, HL_ROLE_ANY = 7 };
int hl_role_parse(const char *s); /* bit, or 0 when unknown */
const char *hl_role_name(int role);

/* Argument types of the op table. */
typedef enum hl_argtype {
    HL_T_STRING,    /* UTF-8 string, minlen..maxlen characters */
    HL_T_INT,       /* integral number in [min, max] */
    HL_T_NUMBER,    /* any number in [min, max] */
    HL_T_BOOL,
    HL_T_ENUM,      /* string, one of values */
    HL_T_ENUMARRAY, /* array (≤ maxlen items) of enum strings */
    HL_T_STRARRAY,  /* array (≤ maxlen items) of strings of 1..64 characters */
    HL_T_TICKET,    /* numeric id ≥ 1, or a ticket number string (≤ 32) */
    HL_T_TIME,      /* RFC 3339 string */
    HL_T_DURATION,  /* duration string such as "2wd" */
    HL_T_OBJECT,    /* object checked against sub */
    HL_T_ANY        /* accepted as is (integers or strings for cursors) */
} hl_argtype;

typedef struct hl_arg {
    const char *name;
    hl_argtype type;
    int required;
    double min, max;             /* INT/NUMBER range; STRING length in characters */
    const char *const *values;   /* ENUM/ENUMARRAY, NULL-terminated */
    const struct hl_arg *sub;    /* OBJECT: its fields, terminated by name NULL */
} hl_arg;

typedef struct hl_opspec {
    const char *name;
    int roles;        /* who may call it at all (finer checks are the dispatcher's) */
    int mutates;      /* changes state: takes idem, replies after commit */
    const hl_arg *args;
} hl_opspec;

/* The op table of protocol version 1; terminated by name NULL. */
extern const hl_opspec hl_ops[];
const hl_opspec *hl_op_find(const char *name);

/* A parsed request. root owns everything; the pointers borrow from it. */
typedef struct hl_request {
    cJSON *root;
    const char *id;   /* NULL until known usable */
    const char *op;
    const char *idem; /* NULL when absent */
    const hl_opspec *spec;
} hl_request;

/* Parse and validate one frame: size ≤ max, UTF-8, a JSON object, usable id,
 * v = 1, a known op, idem (if any) 1..64 characters, arguments of the op
 * table. Returns HL_OK with *req filled, or the error with a message for a
 * person in msg and req->id set when the id was usable (so the reply can
 * carry "re"). Either way the caller releases *req with hl_request_free. */
hl_err hl_request_parse(const void *data, size_t len, size_t max, hl_request *req, char *msg,
                        size_t msgsize);
void hl_request_free(hl_request *req);

/* Validate an object against an argument list; path prefixes messages. */
hl_err hl_args_check(const cJSON *obj, const hl_arg *args, const char *path, char *msg,
                     size_t msgsize);

/* Replies and pushes, as NUL-terminated JSON text the caller frees.
 * result (may be NULL) is consumed: its members are moved into the reply. */
char *hl_reply_ok(const char *re, cJSON *result);
/* The same from a result already printed: result_text is a JSON object
 * (or NULL for none) whose members, none named v, re or ok, follow the
 * envelope. The text is what hl_reply_ok prints for that result. */
char *hl_reply_ok_text(const char *re, const char *result_text);
char *hl_reply_error(const char *re, hl_err code, const char *message);
/* {"v":1,"push":kind, ...fields}; fields consumed. */
char *hl_push_build(const char *kind, cJSON *fields);

/* Client side: build {"v":1,"id":id,"op":op, ...args}; args consumed. */
char *hl_request_build(const char *id, const char *op, cJSON *args);

/* Client side: a parsed reply or push. */
typedef struct hl_reply {
    cJSON *root;
    const char *re;      /* NULL for "re": null and for pushes */
    const char *push;    /* push kind, or NULL */
    int ok;
    hl_err err;          /* when !ok */
    const char *code;    /* error code text when !ok */
    const char *message; /* when !ok */
} hl_reply;
/* 0 on success; -1 when the text is not a protocol message. */
int hl_reply_parse(const void *data, size_t len, hl_reply *rep);
void hl_reply_free(hl_reply *rep);

/* JSON helpers that tolerate NULL and check types. */
const char *hl_json_str(const cJSON *obj, const char *key);
int hl_json_int(const cJSON *obj, const char *key, int64_t *out); /* 0 or -1 */
int hl_json_bool(const cJSON *obj, const char *key, int *out);
int hl_json_num(const cJSON *obj, const char *key, double *out);
/* Add a string or JSON null when s is NULL. */
void hl_json_add_str(cJSON *obj, const char *key, const char *s);
void hl_json_add_int(cJSON *obj, const char *key, int64_t v);
/* Add an RFC 3339 time, or null when t is 0 or negative. */
void hl_json_add_time(cJSON *obj, const char *key, int64_t t);
/* Print compactly; the caller frees. Never NULL. */
char *hl_json_print(const cJSON *obj);

/* Writing JSON text straight into a buffer, without building a tree, for
 * the hot paths (replies, events, pushes). Each writes exactly what
 * hl_json_print would print for the same value. */
struct hl_buf;
/* A string, escaped as cJSON escapes it, or null when s is NULL. */
void hl_json_write_str(struct hl_buf *b, const char *s);
void hl_json_write_int(struct hl_buf *b, int64_t v);
void hl_json_write_num(struct hl_buf *b, double v);
/* An RFC 3339 time, or null when t is 0 or negative. */
void hl_json_write_time(struct hl_buf *b, int64_t t);

#endif
