/* auth.c — secure mode: the dispatcher's key pair, the keys file (client
 * public key → principal) and the ZAP handler (RFC 27) that admits known
 * keys at the CURVE handshake, with the key as User-Id, and refuses the
 * rest. Owns the ZAP socket; must not look at requests: whether a hello
 * agrees with its key is core's business. */
#include "auth.h"

#include "hotline/map.h"
#include "hotline/proto.h"
#include "hotline/utf8.h"
#include "hotline/util.h"
#include "hotline/zloop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#define AUTH_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define AUTH_ZAP_BATCH 64
#define AUTH_MAX_ERRORS 20
#define AUTH_NAME_MAX 64
#define AUTH_LOG_EVERY_MS 60000 /* a refused key is logged at most once a minute */
#define AUTH_LOG_KEYS 4096      /* refused keys remembered for that */

/* One admitted key. */
typedef struct auth_entry {
    char key[HL_KEY_LEN + 1];
    char *name;
    core_principal p;
} auth_entry;

/* The keys file as loaded: replaced whole on reload. */
typedef struct auth_table {
    auth_entry *items;
    int n;
    hl_map *by_key; /* key → auth_entry* */
} auth_table;

/* When a refused key was last logged, and how often since. */
typedef struct auth_refusal {
    int64_t logged;
    unsigned since;
} auth_refusal;

/* A monitor of one CURVE socket: handshakes that fail before ZAP is asked
 * (no CURVE, the wrong server key) show only there. */
typedef struct auth_mon {
    void *sock;
    hl_zwatch *watch;
    const char *what;
    int64_t logged;
    unsigned since;
    uint16_t last_event; /* the kind of failure logged last */
    uint32_t last_value;
} auth_mon;

struct auth {
    const hl_config *cfg;
    auth_mon mons[2];
    int nmons;
    char secret[HL_KEY_LEN + 1];
    char public_key[HL_KEY_LEN + 1];
    auth_table *table;
    void *zap;
    hl_zwatch *watch;
    hl_map *refusals; /* key → auth_refusal* */
};

/* ---- the keys file ------------------------------------------------------------ */

static void s_table_free(auth_table **tp)
{
    auth_table *t = *tp;
    if (!t) return;
    *tp = NULL;
    for (int i = 0; i < t->n; i++)
        free(t->items[i].name);
    free(t->items);
    hl_map_destroy(&t->by_key);
    free(t);
}

typedef struct loader {
    const char *path;
    hl_buf errors;
    int nerrors;
} loader;

static void s_err(loader *L, const char *where, const char *fmt, ...) HL_PRINTF(3, 4);
static void s_err(loader *L, const char *where, const char *fmt, ...)
{
    if (++L->nerrors > AUTH_MAX_ERRORS) return;
    hl_buf_printf(&L->errors, "config: security.clients: %s: %s%s", L->path, where ? where : "",
                  where ? ": " : "");
    va_list ap;
    va_start(ap, fmt);
    char *msg = hl_vsprintf(fmt, ap);
    va_end(ap);
    hl_buf_adds(&L->errors, msg);
    hl_buf_addc(&L->errors, '\n');
    free(msg);
}

/* Line of a byte offset, for JSON syntax errors. */
static int s_line_of(const char *text, const char *at)
{
    int line = 1;
    for (const char *p = text; p < at && *p; p++)
        if (*p == '\n') line++;
    return line;
}

/* Check one entry ("<key>": {role, unit?, name?}); fills e on success. */
static int s_entry(loader *L, const hl_config *cfg, const cJSON *m, auth_entry *e)
{
    char where[64];
    snprintf(where, sizeof where, "\"%.40s\"", m->string);
    if (!hl_key_valid(m->string)) {
        s_err(L, where, "not a CURVE public key (40 Z85 characters, as hotline keygen prints it)");
        return -1;
    }
    if (!cJSON_IsObject(m)) {
        s_err(L, where, "must be an object {\"role\": ..., \"unit\": ..., \"name\": ...}");
        return -1;
    }
    int bad = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, m)
    {
        if (strcmp(f->string, "role") != 0 && strcmp(f->string, "unit") != 0 &&
            strcmp(f->string, "name") != 0) {
            s_err(L, where, "unknown member \"%s\" (an entry has role, unit and name)", f->string);
            bad = 1;
        } else if (!cJSON_IsString(f)) {
            s_err(L, where, "%s must be a string", f->string);
            bad = 1;
        }
    }
    if (bad) return -1;
    const char *role = hl_json_str(m, "role");
    const char *unit = hl_json_str(m, "unit");
    const char *name = hl_json_str(m, "name");
    int r = role ? hl_role_parse(role) : 0;
    if (!role) {
        s_err(L, where, "role is required (operator, manager or worker)");
        bad = 1;
    } else if (!r || r == HL_ROLE_ANY) {
        s_err(L, where, "role \"%s\" must be operator, manager or worker", role);
        bad = 1;
    }
    int u = -1;
    if (unit && (u = hl_config_unit(cfg, unit)) < 0) {
        s_err(L, where, "unknown unit \"%s\" (not in the configuration's units)", unit);
        bad = 1;
    } else if (!unit && r == HL_ROLE_WORKER) {
        s_err(L, where, "a worker key must name its unit");
        bad = 1;
    }
    if (name && (!hl_utf8_valid(name, strlen(name)) || hl_utf8_count(name) > AUTH_NAME_MAX)) {
        s_err(L, where, "name must be UTF-8 text of at most %d characters", AUTH_NAME_MAX);
        bad = 1;
    }
    if (bad) return -1;
    memcpy(e->key, m->string, HL_KEY_LEN + 1);
    e->name = hl_strdup(name ? name : "");
    e->p.role = r;
    e->p.unit = u;
    return 0;
}

/* Load and check the keys file; NULL with *err (every reason) on failure. */
static auth_table *s_table_load(const hl_config *cfg, const char *path, char **err)
{
    loader L = {.path = path};
    hl_buf_init(&L.errors);
    size_t len = 0;
    char *rerr = NULL;
    char *text = hl_read_file(path, &len, &rerr);
    if (!text) {
        *err = hl_sprintf("config: security.clients: %s; create the keys file (hotline keygen "
                          "--keys %s adds an entry)\n",
                          rerr, path);
        free(rerr);
        hl_buf_free(&L.errors);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    auth_table *t = hl_calloc(1, sizeof *t);
    t->by_key = hl_map_new();
    if (!root) {
        s_err(&L, NULL, "not valid JSON (line %d)", s_line_of(text, end ? end : text));
    } else if (!cJSON_IsObject(root)) {
        s_err(&L, NULL,
              "must be a JSON object {\"<public key>\": {\"role\": ..., \"unit\": ..., "
              "\"name\": ...}, ...}");
    } else {
        int n = cJSON_GetArraySize(root);
        t->items = hl_calloc((size_t)n + 1, sizeof *t->items);
        const cJSON *m;
        cJSON_ArrayForEach(m, root)
        {
            auth_entry e;
            memset(&e, 0, sizeof e);
            if (s_entry(&L, cfg, m, &e) != 0) continue;
            if (hl_map_gets(t->by_key, e.key)) {
                s_err(&L, NULL, "the key \"%s\" is listed twice", e.key);
                free(e.name);
                continue;
            }
            t->items[t->n++] = e;
            hl_map_puts(t->by_key, e.key, &t->items[t->n - 1]);
        }
    }
    cJSON_Delete(root);
    free(text);
    if (L.nerrors > AUTH_MAX_ERRORS)
        hl_buf_printf(&L.errors, "config: security.clients: %s: %d more errors\n", path,
                      L.nerrors - AUTH_MAX_ERRORS);
    if (L.nerrors) {
        s_table_free(&t);
        *err = hl_buf_steal(&L.errors);
        return NULL;
    }
    hl_buf_free(&L.errors);
    /* the items no longer move: point the principals at their own strings */
    for (int i = 0; i < t->n; i++) {
        t->items[i].p.key = t->items[i].key;
        t->items[i].p.name = t->items[i].name;
    }
    return t;
}

/* ---- the key pair ------------------------------------------------------------- */

auth *auth_new(const hl_config *cfg, char **err)
{
    if (!hl_curve_available()) {
        *err = hl_sprintf("config: security.curve: this libzmq was built without CURVE; secure "
                          "mode needs libzmq with libsodium (Debian: libzmq5)\n");
        return NULL;
    }
    auth *a = hl_calloc(1, sizeof *a);
    a->cfg = cfg;
    char *kerr = NULL;
    if (hl_key_read(cfg->security.secret_key, 1, a->secret, &kerr) != 0) {
        *err = hl_sprintf("config: security.secret_key: %s\n"
                          "(create the dispatcher's key pair with: hotline keygen --out NAME, "
                          "which writes NAME.key and NAME.key_secret)\n",
                          kerr);
        free(kerr);
        free(a);
        return NULL;
    }
    if (hl_key_public(a->secret, a->public_key) != 0) {
        *err = hl_sprintf("config: security.secret_key: %s: not a CURVE secret key\n",
                          cfg->security.secret_key);
        free(a);
        return NULL;
    }
    a->table = s_table_load(cfg, cfg->security.clients, err);
    if (!a->table) {
        free(a);
        return NULL;
    }
    /* NAME.key beside NAME.key_secret is what gets copied to clients:
     * say so when it is not this secret's public half */
    const char *sp = cfg->security.secret_key;
    size_t n = strlen(sp);
    if (n > 7 && strcmp(sp + n - 7, "_secret") == 0) {
        char *pp = hl_strndup(sp, n - 7);
        char pub[HL_KEY_LEN + 1];
        char *perr = NULL;
        struct stat sb;
        if (stat(pp, &sb) == 0) {
            if (hl_key_read(pp, 0, pub, &perr) != 0)
                hl_warn("%s", perr);
            else if (strcmp(pub, a->public_key) != 0)
                hl_warn("%s is not the public key of %s: clients given that file will fail the "
                        "handshake; the dispatcher's public key is %s",
                        pp, sp, a->public_key);
        }
        free(perr);
        free(pp);
    }
    a->refusals = hl_map_new();
    return a;
}

static void s_refusals_clear(auth *a)
{
    size_t pos = 0;
    const void *k;
    size_t kl;
    void *v;
    while (hl_map_next(a->refusals, &pos, &k, &kl, &v))
        free(v);
    hl_map_destroy(&a->refusals);
    a->refusals = hl_map_new();
}

void auth_destroy(auth **ap)
{
    auth *a = *ap;
    if (!a) return;
    *ap = NULL;
    auth_close(a);
    s_table_free(&a->table);
    if (a->refusals) s_refusals_clear(a);
    hl_map_destroy(&a->refusals);
    /* the secret does not outlive its use in this process's memory */
    memset(a->secret, 0, sizeof a->secret);
    free(a);
}

const char *auth_public_key(const auth *a)
{
    return a->public_key;
}

int auth_count(const auth *a)
{
    return a->table->n;
}

void auth_summary(const auth *a, char *buf, size_t size)
{
    int n[3] = {0, 0, 0};
    for (int i = 0; i < a->table->n; i++) {
        int r = a->table->items[i].p.role;
        n[r == HL_ROLE_OPERATOR ? 0 : r == HL_ROLE_MANAGER ? 1 : 2]++;
    }
    snprintf(buf, size, "%d client key%s: %d operator%s, %d manager%s, %d worker%s", a->table->n,
             a->table->n == 1 ? "" : "s", n[0], n[0] == 1 ? "" : "s", n[1], n[1] == 1 ? "" : "s",
             n[2], n[2] == 1 ? "" : "s");
}

const core_principal *auth_lookup(const auth *a, const char *key)
{
    if (!key) return NULL;
    auth_entry *e = hl_map_gets(a->table->by_key, key);
    return e ? &e->p : NULL;
}

/* "worker of zc.jiayue (贾悦镇工作站)" */
static void s_describe(const auth *a, const core_principal *p, char *buf, size_t size)
{
    const char *unit = p->unit >= 0 ? a->cfg->units[p->unit].id : NULL;
    snprintf(buf, size, "%s%s%s%s%s%s", hl_role_name(p->role), unit ? " of " : "", unit ? unit : "",
             p->name && *p->name ? " (" : "", p->name ? p->name : "",
             p->name && *p->name ? ")" : "");
}

/* ---- the ZAP handler ------------------------------------------------------------ */

static const char *s_socket_name(const char *domain)
{
    if (strcmp(domain, AUTH_DOMAIN_FRONT) == 0) return "front";
    if (strcmp(domain, AUTH_DOMAIN_EVENTS) == 0) return "events";
    return "unknown";
}

/* Log a refusal, at most once a minute per key: a refused client
 * reconnects by itself, and the log must stay readable. */
static void s_log_refusal(auth *a, const char *key, const char *address, const char *domain,
                          const char *why)
{
    auth_refusal *r = hl_map_gets(a->refusals, key);
    int64_t now = hl_mono_ms();
    if (r && now - r->logged < AUTH_LOG_EVERY_MS) {
        r->since++;
        return;
    }
    if (!r) {
        if (hl_map_size(a->refusals) >= AUTH_LOG_KEYS) s_refusals_clear(a);
        r = hl_calloc(1, sizeof *r);
        hl_map_puts(a->refusals, key, r);
    }
    if (r->since)
        hl_warn("refused the key %s from %s on the %s socket: %s (%u more attempts in the last "
                "minute)",
                key, address, s_socket_name(domain), why, r->since);
    else
        hl_warn("refused the key %s from %s on the %s socket: %s", key, address,
                s_socket_name(domain), why);
    r->logged = now;
    r->since = 0;
}

/* The answer to one request: status code, status text, user id. */
static void s_decide(auth *a, char frames[][256], size_t *sizes, int nframes,
                     char key[HL_KEY_LEN + 1], const char **code, const char **text,
                     const char **user)
{
    *user = "";
    if (nframes < 6 || sizes[0] != 3 || memcmp(frames[0], "1.0", 3) != 0) {
        *code = "500";
        *text = "malformed ZAP request";
        return;
    }
    const char *domain = frames[2], *address = frames[3], *mech = frames[5];
    if (strcmp(mech, "CURVE") != 0 || nframes != 7 || sizes[6] != 32) {
        hl_warn("refused a %s handshake from %s: only CURVE is admitted", mech, address);
        *code = "400";
        *text = "CURVE required";
        return;
    }
    if (!zmq_z85_encode(key, (const uint8_t *)frames[6], 32)) {
        *code = "500";
        *text = "bad key";
        return;
    }
    const core_principal *p = auth_lookup(a, key);
    if (!p) {
        s_log_refusal(a, key, address, domain, "not in the keys file");
        *code = "400";
        *text = "unknown key";
        return;
    }
    char who[200];
    s_describe(a, p, who, sizeof who);
    if (p->role == HL_ROLE_WORKER && strcmp(domain, AUTH_DOMAIN_FRONT) != 0) {
        char why[300];
        snprintf(why, sizeof why,
                 "it belongs to %s, and workers read their unit's feed through inbox, not the "
                 "event stream",
                 who);
        s_log_refusal(a, key, address, domain, why);
        *code = "400";
        *text = "workers do not subscribe to events";
        return;
    }
    hl_info("admitted the key %s of %s from %s on the %s socket", key, who, address,
            s_socket_name(domain));
    *code = "200";
    *text = "OK";
    *user = key;
}

static void s_on_zap(hl_zwatch *w, void *sock, void *arg)
{
    (void)w;
    auth *a = arg;
    for (int n = 0; n < AUTH_ZAP_BATCH; n++) {
        char frames[8][256];
        size_t sizes[8];
        int nframes = 0, more = 1, flags = ZMQ_DONTWAIT;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, flags) < 0) {
                zmq_msg_close(&m);
                if (nframes == 0) return; /* nothing waits */
                break;
            }
            flags = 0; /* the rest of a message is already here */
            more = zmq_msg_more(&m);
            if (nframes < 8) {
                size_t len = zmq_msg_size(&m);
                sizes[nframes] = len;
                size_t keep = len < 255 ? len : 255;
                memcpy(frames[nframes], zmq_msg_data(&m), keep);
                frames[nframes][keep] = '\0';
            }
            nframes++;
            zmq_msg_close(&m);
        }
        const char *code, *text, *user;
        char key[HL_KEY_LEN + 1];
        s_decide(a, frames, sizes, nframes, key, &code, &text, &user);
        /* a REP socket must answer each request before taking the next */
        const char *reqid = nframes > 1 ? frames[1] : "";
        size_t reqlen = nframes > 1 ? (sizes[1] < 255 ? sizes[1] : 255) : 0;
        if (zmq_send(sock, "1.0", 3, ZMQ_SNDMORE) < 0 ||
            zmq_send(sock, reqid, reqlen, ZMQ_SNDMORE) < 0 ||
            zmq_send(sock, code, 3, ZMQ_SNDMORE) < 0 ||
            zmq_send(sock, text, strlen(text), ZMQ_SNDMORE) < 0 ||
            zmq_send(sock, user, strlen(user), ZMQ_SNDMORE) < 0 || zmq_send(sock, "", 0, 0) < 0)
            hl_error("cannot answer a ZAP request: %s", zmq_strerror(zmq_errno()));
    }
}

int auth_start(auth *a, void *zctx, uv_loop_t *loop, char **err)
{
    a->zap = zmq_socket(zctx, ZMQ_REP);
    if (!a->zap) {
        *err = hl_sprintf("cannot create the ZAP socket: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    int zero = 0;
    zmq_setsockopt(a->zap, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(a->zap, AUTH_ZAP_ENDPOINT) != 0) {
        *err = hl_sprintf("cannot bind the ZAP handler to %s: %s", AUTH_ZAP_ENDPOINT,
                          zmq_strerror(zmq_errno()));
        zmq_close(a->zap);
        a->zap = NULL;
        return -1;
    }
    a->watch = hl_zwatch_new(loop, a->zap, s_on_zap, a);
    if (!a->watch) {
        *err = hl_sprintf("cannot watch the ZAP socket: %s", zmq_strerror(zmq_errno()));
        zmq_close(a->zap);
        a->zap = NULL;
        return -1;
    }
    char summary[160];
    auth_summary(a, summary, sizeof summary);
    hl_info("secure mode: CURVE with ZAP; the dispatcher's public key is %s; %s from %s",
            a->public_key, summary, a->cfg->security.clients);
    if (a->table->n == 0)
        hl_warn("the keys file %s admits no key: every client will be refused",
                a->cfg->security.clients);
    return 0;
}

void auth_stop(auth *a)
{
    if (a->watch) hl_zwatch_destroy(&a->watch);
    for (int i = 0; i < a->nmons; i++)
        if (a->mons[i].watch) hl_zwatch_destroy(&a->mons[i].watch);
}

void auth_close(auth *a)
{
    auth_stop(a);
    for (int i = 0; i < a->nmons; i++)
        if (a->mons[i].sock) zmq_close(a->mons[i].sock);
    a->nmons = 0;
    if (a->zap) zmq_close(a->zap);
    a->zap = NULL;
}

int auth_secure_socket(const auth *a, void *zsock, const char *domain, char **err)
{
    int one = 1;
    if (zmq_setsockopt(zsock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_SECRETKEY, a->secret, HL_KEY_LEN) != 0 ||
        zmq_setsockopt(zsock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0) {
        *err = hl_sprintf("cannot enable CURVE on the %s socket: %s", s_socket_name(domain),
                          zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static void s_on_monitor(hl_zwatch *w, void *sock, void *arg)
{
    (void)w;
    auth_mon *m = arg;
    for (int n = 0; n < 64; n++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&msg) >= 6) {
            memcpy(&event, zmq_msg_data(&msg), 2);
            memcpy(&value, (char *)zmq_msg_data(&msg) + 2, 4);
        }
        int more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
        while (more) { /* the endpoint frame */
            zmq_msg_init(&msg);
            more = zmq_msg_recv(&msg, sock, 0) >= 0 && zmq_msg_more(&msg);
            zmq_msg_close(&msg);
        }
        /* a refused key was logged by the handler already */
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) continue;
        char why[160];
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            /* the client gave up first: which side notices a mismatch
             * first is a race, and a client may also just have gone */
            snprintf(why, sizeof why,
                     "the client closed the connection during the handshake (%s): it has no "
                     "CURVE or the wrong server key, or it went away",
                     zmq_strerror((int)value));
        else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            snprintf(why, sizeof why, "the client does not use CURVE");
        else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
            snprintf(why, sizeof why,
                     "its hello could not be decrypted: the client was given the wrong server "
                     "key, most likely");
        else
            snprintf(why, sizeof why, "ZMTP protocol error 0x%x", (unsigned)value);
        /* one kind of failure is logged at most once a minute; how the
         * connection ended (EPIPE, ECONNRESET) does not make another kind */
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) value = 0;
        int64_t now = hl_mono_ms();
        if (m->logged && now - m->logged < AUTH_LOG_EVERY_MS && event == m->last_event &&
            value == m->last_value) {
            m->since++;
            continue;
        }
        m->last_event = event;
        m->last_value = value;
        int level = event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ? HL_LOG_INFO : HL_LOG_WARN;
        if (m->since)
            hl_log(level,
                   "a client failed the CURVE handshake on the %s socket: %s (%u more in the "
                   "last minute)",
                   m->what, why, m->since);
        else
            hl_log(level, "a client failed the CURVE handshake on the %s socket: %s", m->what, why);
        m->logged = now;
        m->since = 0;
    }
}

int auth_monitor(auth *a, void *zctx, uv_loop_t *loop, void *zsock, const char *domain)
{
    if (a->nmons == (int)HL_ARRAY_LEN(a->mons)) return -1;
    auth_mon *m = &a->mons[a->nmons];
    memset(m, 0, sizeof *m);
    char ep[80];
    snprintf(ep, sizeof ep, "inproc://hotline-auth-monitor-%d", a->nmons);
    if (zmq_socket_monitor(zsock, ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
        return -1;
    m->sock = zmq_socket(zctx, ZMQ_PAIR);
    int zero = 0;
    if (!m->sock) return -1;
    zmq_setsockopt(m->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(m->sock, ep) != 0 ||
        !(m->watch = hl_zwatch_new(loop, m->sock, s_on_monitor, m))) {
        zmq_close(m->sock);
        m->sock = NULL;
        return -1;
    }
    m->what = s_socket_name(domain);
    a->nmons++;
    return 0;
}

/* ---- reload --------------------------------------------------------------------- */

int auth_reload(auth *a, int *dropped, char **err)
{
    auth_table *t = s_table_load(a->cfg, a->cfg->security.clients, err);
    if (!t) return -1;
    int added = 0, removed = 0, changed = 0;
    char who[200];
    for (int i = 0; i < a->table->n; i++) {
        const auth_entry *old = &a->table->items[i];
        const auth_entry *now = hl_map_gets(t->by_key, old->key);
        s_describe(a, &old->p, who, sizeof who);
        if (!now) {
            removed++;
            hl_info("the key %s of %s was removed: refused from now on", old->key, who);
        } else if (now->p.role != old->p.role || now->p.unit != old->p.unit ||
                   strcmp(now->name, old->name) != 0) {
            changed++;
            char was[200];
            snprintf(was, sizeof was, "%s", who);
            s_describe(a, &now->p, who, sizeof who);
            hl_info("the key %s now belongs to %s (was %s)", old->key, who, was);
        }
    }
    for (int i = 0; i < t->n; i++) {
        if (hl_map_gets(a->table->by_key, t->items[i].key)) continue;
        added++;
        s_describe(a, &t->items[i].p, who, sizeof who);
        hl_info("the key %s of %s was added", t->items[i].key, who);
    }
    s_table_free(&a->table);
    a->table = t;
    /* a key admitted now may have been refused a minute ago */
    s_refusals_clear(a);
    char summary[160];
    auth_summary(a, summary, sizeof summary);
    hl_info("keys file %s reloaded: %s (%d added, %d removed, %d changed)",
            a->cfg->security.clients, summary, added, removed, changed);
    if (dropped) *dropped = removed > 0 || changed > 0;
    return 0;
}
