/* ticket.c — the ticket record: status names, owned-string helpers and the
 * wire ticket object (the only place it is built). Knows nothing of SQL,
 * sockets or who may do what. */
#include "ticket.h"

#include "hotline/proto.h"
#include "hotline/util.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_status[TS__COUNT] = {"triage", "dispatched", "accepted", "resolved",
                                                "closed", "merged",     "cancelled"};
static const char *const s_ext[] = {"none", "pending", "approved", "denied"};

const char *ticket_status_name(ticket_status s)
{
    return (unsigned)s < TS__COUNT ? s_status[s] : "?";
}

int ticket_status_parse(const char *s)
{
    for (int i = 0; s && i < TS__COUNT; i++)
        if (strcmp(s, s_status[i]) == 0) return i;
    return -1;
}

int ticket_status_open(ticket_status s)
{
    return (TS_OPEN_SET & TS_BIT(s)) != 0;
}

const char *ticket_ext_state_name(ticket_ext_state s)
{
    return (unsigned)s < HL_ARRAY_LEN(s_ext) ? s_ext[s] : "none";
}

int ticket_ext_state_parse(const char *s)
{
    for (int i = 0; s && i < (int)HL_ARRAY_LEN(s_ext); i++)
        if (strcmp(s, s_ext[i]) == 0) return i;
    return TEXT_NONE;
}

void ticket_set(char **field, const char *s)
{
    char *old = *field;
    *field = s && *s ? hl_strdup(s) : NULL;
    free(old);
}

void ticket_set_co(ticket *t, char *const *ids, int n)
{
    char **co = n > 0 ? hl_calloc((size_t)n, sizeof(char *)) : NULL;
    for (int i = 0; i < n; i++)
        co[i] = hl_strdup(ids[i]);
    for (int i = 0; i < t->nco; i++)
        free(t->co[i]);
    free(t->co);
    t->co = co;
    t->nco = n;
}

int ticket_has_co(const ticket *t, const char *unit)
{
    for (int i = 0; unit && i < t->nco; i++)
        if (strcmp(t->co[i], unit) == 0) return 1;
    return 0;
}

void ticket_clear(ticket *t)
{
    char **strs[] = {&t->category,     &t->title,        &t->description,  &t->caller_name,
                     &t->caller_phone, &t->cell,         &t->address,      &t->town,
                     &t->lead,         &t->escalated_to, &t->ext_reason,   &t->result,
                     &t->satisfaction, &t->merged_into,  &t->return_reason};
    for (size_t i = 0; i < HL_ARRAY_LEN(strs); i++)
        free(*strs[i]);
    for (int i = 0; i < t->nco; i++)
        free(t->co[i]);
    free(t->co);
    memset(t, 0, sizeof *t);
}

/* Literal pieces are added with their length known at compile time. */
#define LIT(b, s) hl_buf_add((b), (s), sizeof(s) - 1)

/* Both forms open with {"id", "no", "status". */
static void s_write_head(const ticket *t, hl_buf *b)
{
    LIT(b, "{\"id\":");
    hl_json_write_int(b, t->id);
    LIT(b, ",\"no\":");
    hl_json_write_str(b, t->no);
    LIT(b, ",\"status\":");
    hl_json_write_str(b, ticket_status_name(t->status));
}

void ticket_json_write(const ticket *t, const hl_config *cfg, hl_buf *b)
{
    hl_buf_reserve(b, 1536); /* a ticket's usual size: one allocation */
    s_write_head(t, b);
    LIT(b, ",\"category\":");
    hl_json_write_str(b, t->category);
    int cat = hl_config_category(cfg, t->category);
    LIT(b, ",\"category_name\":");
    hl_json_write_str(b, cat >= 0 ? cfg->categories[cat].name : NULL);
    LIT(b, ",\"urgency\":");
    hl_json_write_str(b, hl_urgency_name(t->urgency));
    LIT(b, ",\"channel\":");
    hl_json_write_str(b, hl_channel_name(t->channel));
    LIT(b, ",\"title\":");
    hl_json_write_str(b, t->title);
    LIT(b, ",\"description\":");
    hl_json_write_str(b, t->description);
    LIT(b, ",\"caller\":{\"name\":");
    hl_json_write_str(b, t->caller_name);
    LIT(b, ",\"phone\":");
    hl_json_write_str(b, t->caller_phone);
    LIT(b, "},\"location\":{\"cell\":");
    hl_json_write_str(b, t->cell);
    if (t->has_point) {
        LIT(b, ",\"lat\":");
        hl_json_write_num(b, t->lat);
        LIT(b, ",\"lon\":");
        hl_json_write_num(b, t->lon);
    } else {
        LIT(b, ",\"lat\":null,\"lon\":null");
    }
    LIT(b, ",\"address\":");
    hl_json_write_str(b, t->address);
    LIT(b, ",\"town\":");
    hl_json_write_str(b, t->town);
    LIT(b, "},\"lead\":");
    hl_json_write_str(b, t->lead);
    LIT(b, ",\"co\":[");
    for (int i = 0; i < t->nco; i++) {
        if (i) hl_buf_addc(b, ',');
        hl_json_write_str(b, t->co[i]);
    }
    LIT(b, "],\"escalated_to\":");
    hl_json_write_str(b, t->escalated_to);
    LIT(b, ",\"created_at\":");
    hl_json_write_time(b, t->created_at);
    LIT(b, ",\"dispatched_at\":");
    hl_json_write_time(b, t->dispatched_at);
    LIT(b, ",\"signed_at\":");
    hl_json_write_time(b, t->signed_at);
    LIT(b, ",\"resolved_at\":");
    hl_json_write_time(b, t->resolved_at);
    LIT(b, ",\"closed_at\":");
    hl_json_write_time(b, t->closed_at);
    LIT(b, ",\"sign_due\":");
    hl_json_write_time(b, t->sign_due);
    LIT(b, ",\"finish_due\":");
    hl_json_write_time(b, t->finish_due);
    LIT(b, ",\"flags\":{\"yellow\":");
    hl_json_write_int(b, t->yellow);
    LIT(b, ",\"red\":");
    hl_json_write_int(b, t->red);
    LIT(b, "},\"repeat_calls\":");
    hl_json_write_int(b, t->repeat_calls);
    LIT(b, ",\"reopen_count\":");
    hl_json_write_int(b, t->reopen_count);
    LIT(b, ",\"supervise_count\":");
    hl_json_write_int(b, t->supervise_count);
    if (t->ext_state == TEXT_NONE) {
        LIT(b, ",\"extension\":null");
    } else {
        LIT(b, ",\"extension\":{\"until\":");
        hl_json_write_time(b, t->ext_until);
        LIT(b, ",\"reason\":");
        hl_json_write_str(b, t->ext_reason);
        LIT(b, ",\"state\":");
        hl_json_write_str(b, ticket_ext_state_name(t->ext_state));
        hl_buf_addc(b, '}');
    }
    LIT(b, ",\"result\":");
    hl_json_write_str(b, t->result);
    LIT(b, ",\"satisfaction\":");
    hl_json_write_str(b, t->satisfaction);
    LIT(b, ",\"merged_into\":");
    hl_json_write_str(b, t->merged_into);
    LIT(b, ",\"return_reason\":");
    hl_json_write_str(b, t->return_reason);
    hl_buf_addc(b, '}');
}

void ticket_json_brief_write(const ticket *t, hl_buf *b)
{
    s_write_head(t, b);
    LIT(b, ",\"lead\":");
    hl_json_write_str(b, t->lead);
    LIT(b, ",\"category\":");
    hl_json_write_str(b, t->category);
    LIT(b, ",\"urgency\":");
    hl_json_write_str(b, hl_urgency_name(t->urgency));
    hl_buf_addc(b, '}');
}

/* The text in b (freed) as a tree, or as a raw item. */
static cJSON *s_take(hl_buf *b, int raw)
{
    cJSON *o = raw ? cJSON_CreateRaw(b->data) : cJSON_Parse(b->data);
    hl_buf_free(b);
    if (!o) hl_panic("out of memory building JSON");
    return o;
}

cJSON *ticket_json(const ticket *t, const hl_config *cfg)
{
    hl_buf b;
    hl_buf_init(&b);
    ticket_json_write(t, cfg, &b);
    return s_take(&b, 0);
}

cJSON *ticket_json_brief_raw(const ticket *t)
{
    hl_buf b;
    hl_buf_init(&b);
    ticket_json_brief_write(t, &b);
    return s_take(&b, 1);
}

cJSON *ticket_json_raw(const ticket *t, const hl_config *cfg)
{
    hl_buf b;
    hl_buf_init(&b);
    ticket_json_write(t, cfg, &b);
    return s_take(&b, 1);
}

char *ticket_co_text(const ticket *t)
{
    if (t->nco == 0) return hl_strdup("[]");
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < t->nco; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(t->co[i]));
    char *s = hl_json_print(a);
    cJSON_Delete(a);
    return s;
}

void ticket_co_from_text(ticket *t, const char *text)
{
    ticket_set_co(t, NULL, 0);
    if (!text || strcmp(text, "[]") == 0) return; /* the common case, without a parse */
    cJSON *a = text ? cJSON_Parse(text) : NULL;
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (n > 0) {
        t->co = hl_calloc((size_t)n, sizeof(char *));
        const cJSON *it;
        cJSON_ArrayForEach(it, a)
        {
            if (cJSON_IsString(it)) t->co[t->nco++] = hl_strdup(it->valuestring);
        }
    }
    cJSON_Delete(a);
}
