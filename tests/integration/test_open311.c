/* test_open311.c — Open311 GeoReport v2 on a real dispatcher: every
 * endpoint in JSON and XML, each answer checked against the spec's field
 * lists (every field present, with its type), the errors in the spec's
 * format, posting with and without api keys (which SIGHUP reads again),
 * the GET filters, and the mapping of tickets (status, agency, expected
 * time, status notes). */
#include "test_dispatcher.h"
#include "test_http.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>

static th_disp s_d;
static int s_port;

static void s_start(const char *config)
{
    static int n;
    char db[64];
    snprintf(db, sizeof db, "db%d/hotline.db", ++n);
    s_port = th_disp_start_http(&s_d, config, db);
}

static int s_setup(void **state)
{
    (void)state;
    s_start("config/test-small.json");
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    assert_int_equal(th_disp_stop(&s_d), 0);
    return 0;
}

/* ---- checking against the spec's field lists ------------------------------------ */

enum { T_STR = 1, T_NULL = 2, T_NUM = 4, T_BOOL = 8, T_ARR = 16, T_TIME = 32 };

typedef struct field {
    const char *name;
    int types;
} field;

static void s_check_fields(const cJSON *o, const field *fields, const char *what)
{
    assert_true(cJSON_IsObject(o));
    for (const field *f = fields; f->name; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f->name);
        if (!v) fail_msg("%s: field %s missing", what, f->name);
        int ok =
            ((f->types & T_STR) && cJSON_IsString(v)) || ((f->types & T_NULL) && cJSON_IsNull(v)) ||
            ((f->types & T_NUM) && cJSON_IsNumber(v)) || ((f->types & T_BOOL) && cJSON_IsBool(v)) ||
            ((f->types & T_ARR) && cJSON_IsArray(v));
        if ((f->types & T_TIME) && cJSON_IsString(v)) {
            hl_ms t;
            if (hl_time_parse(v->valuestring, &t) != 0)
                fail_msg("%s: %s is not a date-time: %s", what, f->name, v->valuestring);
            ok = 1;
        }
        if (!ok) fail_msg("%s: field %s has the wrong type", what, f->name);
    }
}

/* Each element named in fields occurs in every <item> of the XML list. */
static void s_check_xml(const char *xml, const char *outer, const char *item, const field *fields,
                        int expect_items)
{
    char tag[80];
    assert_non_null(strstr(xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
    snprintf(tag, sizeof tag, "<%s>", outer);
    if (!strstr(xml, tag)) fail_msg("no %s in %.300s", tag, xml);
    int items = 0;
    snprintf(tag, sizeof tag, "<%s>", item);
    for (const char *p = strstr(xml, tag); p; p = strstr(p + 1, tag)) {
        char close[80];
        snprintf(close, sizeof close, "</%s>", item);
        const char *end = strstr(p, close);
        assert_non_null(end);
        for (const field *f = fields; f->name; f++) {
            char open[80], empty[80];
            snprintf(open, sizeof open, "<%s>", f->name);
            snprintf(empty, sizeof empty, "<%s/>", f->name);
            const char *a = strstr(p, open), *b = strstr(p, empty);
            if (!((a && a < end) || (b && b < end)))
                fail_msg("<%s> without <%s>: %.300s", item, f->name, p);
        }
        items++;
    }
    if (expect_items >= 0) assert_int_equal(items, expect_items);
}

static const field s_service_fields[] = {
    {"service_code", T_STR}, {"service_name", T_STR}, {"description", T_STR}, {"metadata", T_BOOL},
    {"type", T_STR},         {"keywords", T_STR},     {"group", T_STR},       {NULL, 0}};

static const field s_request_fields[] = {{"service_request_id", T_STR},
                                         {"status", T_STR},
                                         {"status_notes", T_STR | T_NULL},
                                         {"service_name", T_STR | T_NULL},
                                         {"service_code", T_STR},
                                         {"description", T_STR | T_NULL},
                                         {"agency_responsible", T_STR | T_NULL},
                                         {"service_notice", T_STR | T_NULL},
                                         {"requested_datetime", T_TIME},
                                         {"updated_datetime", T_TIME | T_NULL},
                                         {"expected_datetime", T_TIME | T_NULL},
                                         {"address", T_STR | T_NULL},
                                         {"address_id", T_STR | T_NULL},
                                         {"zipcode", T_STR | T_NULL},
                                         {"lat", T_NUM | T_NULL},
                                         {"long", T_NUM | T_NULL},
                                         {"media_url", T_STR | T_NULL},
                                         {NULL, 0}};

static const field s_posted_fields[] = {{"service_request_id", T_STR},
                                        {"service_notice", T_STR | T_NULL},
                                        {"account_id", T_STR | T_NULL},
                                        {NULL, 0}};

/* The spec's error list: [{"code": N, "description": "..."}]. */
static void s_check_error(const th_resp *r, int status, int xml)
{
    if (r->status != status) fail_msg("status %d, wanted %d: %s", r->status, status, r->body);
    if (xml) {
        assert_non_null(strstr(th_hdr(r, "Content-Type"), "xml"));
        char code[40];
        snprintf(code, sizeof code, "<error><code>%d</code><description>", status);
        if (!strstr(r->body, "<errors>") || !strstr(r->body, code))
            fail_msg("not an XML error: %s", r->body);
        return;
    }
    cJSON *j = th_resp_json(r);
    assert_true(cJSON_IsArray(j));
    assert_int_equal(cJSON_GetArraySize(j), 1);
    const cJSON *e = cJSON_GetArrayItem(j, 0);
    assert_int_equal(th_geti(e, "code"), status);
    assert_non_null(th_gets(e, "description"));
    assert_true(strlen(th_gets(e, "description")) > 5);
    cJSON_Delete(j);
}

/* POST a request; returns its id (caller frees). */
static char *s_post(const char *form)
{
    th_resp *r = th_http_post(s_port, "/open311/v2/requests.json", form);
    if (r->status != 201) fail_msg("POST %s: %d %s", form, r->status, r->body);
    cJSON *j = th_resp_json(r);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    s_check_fields(cJSON_GetArrayItem(j, 0), s_posted_fields, "POST requests.json");
    char *id = strdup(th_gets(cJSON_GetArrayItem(j, 0), "service_request_id"));
    cJSON_Delete(j);
    th_resp_free(r);
    return id;
}

static cJSON *s_get_json(const char *path, int status)
{
    th_resp *r = th_http_get(s_port, path);
    if (r->status != status) fail_msg("GET %s: %d %s", path, r->status, r->body);
    assert_non_null(strstr(th_hdr(r, "Content-Type"), "application/json"));
    cJSON *j = th_resp_json(r);
    th_resp_free(r);
    return j;
}

/* ---- the tests ------------------------------------------------------------------ */

static void test_discovery(void **state)
{
    (void)state;
    cJSON *d = s_get_json("/open311/v2/discovery.json", 200);
    static const field df[] = {{"changeset", T_TIME},
                               {"contact", T_STR},
                               {"key_service", T_STR},
                               {"endpoints", T_ARR},
                               {NULL, 0}};
    s_check_fields(d, df, "discovery.json");
    const cJSON *ep = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "endpoints"), 0);
    static const field ef[] = {{"specification", T_STR}, {"url", T_STR},     {"changeset", T_TIME},
                               {"type", T_STR},          {"formats", T_ARR}, {NULL, 0}};
    s_check_fields(ep, ef, "discovery endpoint");
    assert_string_equal(th_gets(ep, "specification"), "http://wiki.open311.org/GeoReport_v2");
    assert_non_null(strstr(th_gets(ep, "url"), "/open311/v2"));
    assert_string_equal(th_gets(ep, "formats.0"), "text/xml");
    assert_string_equal(th_gets(ep, "formats.1"), "application/json");
    cJSON_Delete(d);

    th_resp *r = th_http_get(s_port, "/open311/v2/discovery.xml");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(th_hdr(r, "Content-Type"), "text/xml"));
    static const field xf[] = {{"changeset", 0}, {"contact", 0},       {"key_service", 0},
                               {"endpoints", 0}, {"specification", 0}, {"url", 0},
                               {"type", 0},      {"formats", 0},       {NULL, 0}};
    s_check_xml(r->body, "discovery", "discovery", xf, 1);
    assert_non_null(strstr(r->body, "<format>application/json</format>"));
    th_resp_free(r);
}

static void test_services_are_the_categories(void **state)
{
    (void)state;
    cJSON *s = s_get_json("/open311/v2/services.json", 200);
    assert_int_equal(cJSON_GetArraySize(s), 5); /* test-small.json has five categories */
    const cJSON *it;
    int found = 0;
    cJSON_ArrayForEach(it, s)
    {
        s_check_fields(it, s_service_fields, "services.json");
        assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "metadata")));
        assert_string_equal(th_gets(it, "type"), "realtime");
        if (strcmp(th_gets(it, "service_code"), "water.outage") == 0) {
            found = 1;
            assert_string_equal(th_gets(it, "service_name"), "停水");
            assert_non_null(strstr(th_gets(it, "description"), "水务"));
        }
    }
    assert_true(found);
    cJSON_Delete(s);

    th_resp *r = th_http_get(s_port, "/open311/v2/services.xml");
    assert_int_equal(r->status, 200);
    s_check_xml(r->body, "services", "service", s_service_fields, 5);
    assert_non_null(strstr(r->body, "<metadata>false</metadata>"));
    th_resp_free(r);
}

static void test_service_definition(void **state)
{
    (void)state;
    cJSON *d = s_get_json("/open311/v2/services/env.noise.json", 200);
    assert_string_equal(th_gets(d, "service_code"), "env.noise");
    assert_true(cJSON_IsArray(th_get(d, "attributes")));
    assert_int_equal(cJSON_GetArraySize(th_get(d, "attributes")), 0);
    cJSON_Delete(d);
    th_resp *r = th_http_get(s_port, "/open311/v2/services/env.noise.xml");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "<service_definition><service_code>env.noise</service_code>"));
    th_resp_free(r);
    r = th_http_get(s_port, "/open311/v2/services/no.such.json");
    s_check_error(r, 404, 0);
    th_resp_free(r);
    r = th_http_get(s_port, "/open311/v2/services/no.such.xml");
    s_check_error(r, 404, 1);
    th_resp_free(r);
}

static void test_post_makes_a_ticket(void **state)
{
    (void)state;
    char *id = s_post("api_key=test-key&service_code=env.noise&lat=30.005&long=100.005"
                      "&description=%E6%A5%BC%E4%B8%8B%E5%A4%9C%E5%B8%82%E5%99%AA%E9%9F%B3"
                      "&first_name=%E4%B8%89&last_name=%E5%BC%A0&phone=13800000001"
                      "&email=a%40b.cn");
    th_client *c = th_client_new(s_d.front, "operator", NULL);
    cJSON *t = th_ok(c, "get", "{\"ticket\":\"%s\"}", id);
    assert_string_equal(th_gets(t, "ticket.channel"), "app"); /* from the api key */
    assert_string_equal(th_gets(t, "ticket.category"), "env.noise");
    assert_string_equal(th_gets(t, "ticket.caller.name"), "张三");
    assert_string_equal(th_gets(t, "ticket.caller.phone"), "13800000001");
    assert_non_null(strstr(th_gets(t, "ticket.description"), "楼下夜市噪音"));
    assert_non_null(strstr(th_gets(t, "ticket.description"), "a@b.cn"));
    assert_string_equal(th_gets(t, "ticket.location.cell"), "C-A1");
    assert_string_equal(th_gets(t, "ticket.lead"), "t.a");
    assert_non_null(strstr(th_gets(t, "ticket.events.0.actor"), "Open311"));
    cJSON_Delete(t);
    free(id);

    /* no key (not required here): channel web; an address instead of a point */
    id = s_post("service_code=road.damage&address_string=%E5%92%8C%E5%B9%B3%E8%B7%AF12%E5%8F%B7");
    t = th_ok(c, "get", "{\"ticket\":\"%s\"}", id);
    assert_string_equal(th_gets(t, "ticket.channel"), "web");
    assert_string_equal(th_gets(t, "ticket.location.address"), "和平路12号");
    assert_string_equal(th_gets(t, "ticket.status"), "triage");
    cJSON_Delete(t);
    free(id);
    th_client_destroy(&c);

    /* the XML answer */
    th_resp *r = th_http_post(s_port, "/open311/v2/requests.xml",
                              "service_code=water.outage&lat=30.015&long=100.015");
    assert_int_equal(r->status, 201);
    s_check_xml(r->body, "service_requests", "request", s_posted_fields, 1);
    th_resp_free(r);
}

static void test_post_errors(void **state)
{
    (void)state;
    struct {
        const char *form;
        int status;
        const char *says;
    } cases[] = {
        {"lat=30&long=100", 400, "service_code"},
        {"service_code=no.such&lat=30&long=100", 400, "no.such"},
        {"service_code=env.noise", 400, "location"},
        {"service_code=env.noise&lat=30", 400, "long"},
        {"service_code=env.noise&lat=95&long=100", 400, "lat"},
        {"service_code=env.noise&lat=abc&long=100", 400, "lat"},
        {"service_code=env.noise&lat=30&long=100&description=%ff%fe", 400, "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int xml = 0; xml < 2; xml++) {
            th_resp *r =
                th_http_post(s_port, xml ? "/open311/v2/requests.xml" : "/open311/v2/requests.json",
                             cases[i].form);
            s_check_error(r, cases[i].status, xml);
            if (!strstr(r->body, cases[i].says))
                fail_msg("%s: the error does not mention %s: %s", cases[i].form, cases[i].says,
                         r->body);
            th_resp_free(r);
        }
    }
    /* a JSON body is not a form */
    th_resp *r = th_http(s_port, "POST", "/open311/v2/requests.json", "application/json",
                         "{\"service_code\":\"env.noise\"}");
    s_check_error(r, 400, 0);
    th_resp_free(r);
    /* methods */
    r = th_http(s_port, "DELETE", "/open311/v2/requests.json", NULL, NULL);
    s_check_error(r, 405, 0);
    assert_non_null(th_hdr(r, "Allow"));
    th_resp_free(r);
    r = th_http_post(s_port, "/open311/v2/services.xml", "x=1");
    s_check_error(r, 405, 1);
    th_resp_free(r);
    /* unknown resources and formats */
    r = th_http_get(s_port, "/open311/v2/nothing.json");
    s_check_error(r, 404, 0);
    th_resp_free(r);
    r = th_http_get(s_port, "/open311/v2/services.csv");
    assert_int_equal(r->status, 404);
    th_resp_free(r);
}

static void test_require_key(void **state)
{
    (void)state;
    assert_int_equal(th_disp_stop(&s_d), 0);
    s_start(td_small_with("require-key.json", "\"require_key\": false", "\"require_key\": true"));
    th_resp *r = th_http_post(s_port, "/open311/v2/requests.json",
                              "service_code=env.noise&lat=30.005&long=100.005");
    s_check_error(r, 403, 0);
    assert_non_null(strstr(r->body, "api_key"));
    th_resp_free(r);
    r = th_http_post(s_port, "/open311/v2/requests.json",
                     "api_key=wrong&service_code=env.noise&lat=30.005&long=100.005");
    s_check_error(r, 403, 0);
    th_resp_free(r);
    char *id = s_post("api_key=test-key&service_code=env.noise&lat=30.005&long=100.005");
    assert_non_null(id);
    free(id);
}

/* A leaked key revoked without a restart: the file's api_keys changed and
 * SIGHUP sent, the old key is refused and the new one posts. */
static void test_api_keys_reloaded_on_sighup(void **state)
{
    (void)state;
    assert_int_equal(th_disp_stop(&s_d), 0);
    const char *was = "\"test-key\": {\"channel\": \"app\", \"name\": \"测试App\"}}, "
                      "\"require_key\": false";
    s_start(td_small_with("keys-hup.json", was,
                          "\"test-key\": {\"channel\": \"app\", \"name\": \"测试App\"}}, "
                          "\"require_key\": true"));
    const char *form = "service_code=env.noise&lat=30.005&long=100.005&api_key=";
    char post[200];
    snprintf(post, sizeof post, "%stest-key", form);
    free(s_post(post));
    td_small_with("keys-hup.json", was,
                  "\"new-key\": {\"channel\": \"grid\", \"name\": \"网格App\"}}, "
                  "\"require_key\": true");
    assert_int_equal(kill(s_d.pid, SIGHUP), 0);
    th_file_must(s_d.log, "SIGHUP: Open311: 1 api key (1 before), a key required", 5000);
    th_resp *r = th_http_post(s_port, "/open311/v2/requests.json", post);
    s_check_error(r, 403, 0);
    th_resp_free(r);
    snprintf(post, sizeof post, "%snew-key", form);
    char *id = s_post(post);
    char path[200];
    snprintf(path, sizeof path, "/api/tickets/%s", id);
    free(id);
    cJSON *j = s_get_json(path, 200);
    assert_string_equal(th_gets(j, "ticket.channel"), "grid");
    assert_non_null(strstr(th_gets(j, "ticket.events.0.actor"), "网格App"));
    cJSON_Delete(j);
}

static void test_get_requests_fields_and_mapping(void **state)
{
    (void)state;
    char *a = s_post("service_code=env.noise&lat=30.005&long=100.005&description=one&phone=1");
    char *b = s_post("service_code=water.outage&lat=30.015&long=100.015&description=two&phone=2");
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    td_ok(op, "note", "{\"ticket\":\"%s\",\"text\":\"已联系水务\"}", b);
    td_ok(op, "cancel", "{\"ticket\":\"%s\",\"reason\":\"重复\"}", a);

    cJSON *all = s_get_json("/open311/v2/requests.json", 200);
    assert_int_equal(cJSON_GetArraySize(all), 2);
    const cJSON *it;
    cJSON_ArrayForEach(it, all) s_check_fields(it, s_request_fields, "requests.json");
    cJSON_Delete(all);

    char path[200];
    snprintf(path, sizeof path, "/open311/v2/requests/%s.json", b);
    cJSON *one = s_get_json(path, 200);
    assert_int_equal(cJSON_GetArraySize(one), 1);
    const cJSON *q = cJSON_GetArrayItem(one, 0);
    s_check_fields(q, s_request_fields, "requests/{id}.json");
    cJSON *t = th_ok(op, "get", "{\"ticket\":\"%s\"}", b);
    assert_string_equal(th_gets(q, "service_request_id"), b);
    assert_string_equal(th_gets(q, "status"), "open");
    assert_string_equal(th_gets(q, "status_notes"), "已联系水务"); /* the latest event's note */
    assert_string_equal(th_gets(q, "agency_responsible"), "水务"); /* the lead's name */
    assert_string_equal(th_gets(q, "expected_datetime"), th_gets(t, "ticket.finish_due"));
    assert_string_equal(th_gets(q, "requested_datetime"), th_gets(t, "ticket.created_at"));
    assert_string_equal(th_gets(q, "service_code"), "water.outage");
    assert_string_equal(th_gets(q, "service_name"), "停水");
    assert_string_equal(th_gets(q, "description"), "two");
    assert_true(fabs(th_get(q, "lat")->valuedouble - 30.015) < 1e-9);
    assert_true(fabs(th_get(q, "long")->valuedouble - 100.015) < 1e-9);
    cJSON_Delete(t);
    cJSON_Delete(one);

    /* cancelled counts as closed */
    snprintf(path, sizeof path, "/open311/v2/requests/%s.json", a);
    one = s_get_json(path, 200);
    assert_string_equal(th_gets(cJSON_GetArrayItem(one, 0), "status"), "closed");
    assert_true(cJSON_IsNull(th_get(cJSON_GetArrayItem(one, 0), "expected_datetime")));
    cJSON_Delete(one);

    /* XML, the same fields */
    snprintf(path, sizeof path, "/open311/v2/requests/%s.xml", b);
    th_resp *r = th_http_get(s_port, path);
    assert_int_equal(r->status, 200);
    s_check_xml(r->body, "service_requests", "request", s_request_fields, 1);
    assert_non_null(strstr(r->body, "<agency_responsible>水务</agency_responsible>"));
    th_resp_free(r);
    r = th_http_get(s_port, "/open311/v2/requests.xml");
    s_check_xml(r->body, "service_requests", "request", s_request_fields, 2);
    th_resp_free(r);

    /* unknown ids */
    r = th_http_get(s_port, "/open311/v2/requests/19990101-000001.json");
    s_check_error(r, 404, 0);
    th_resp_free(r);
    r = th_http_get(s_port, "/open311/v2/requests/19990101-000001.xml");
    s_check_error(r, 404, 1);
    th_resp_free(r);
    th_client_destroy(&op);
    free(a);
    free(b);
}

static int s_count(const char *path)
{
    cJSON *j = s_get_json(path, 200);
    int n = cJSON_GetArraySize(j);
    cJSON_Delete(j);
    return n;
}

static void test_get_requests_filters(void **state)
{
    (void)state;
    char *a = s_post("service_code=env.noise&lat=30.005&long=100.005&phone=11");
    char *b = s_post("service_code=env.noise&lat=30.015&long=100.015&phone=12");
    char *c = s_post("service_code=water.outage&lat=30.015&long=100.015&phone=13");
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    td_ok(op, "cancel", "{\"ticket\":\"%s\",\"reason\":\"x\"}", b);
    char path[300];

    snprintf(path, sizeof path, "/open311/v2/requests.json?service_request_id=%s,%s", a, c);
    cJSON *j = s_get_json(path, 200);
    assert_int_equal(cJSON_GetArraySize(j), 2);
    cJSON_Delete(j);
    /* service_request_id overrides the other parameters */
    snprintf(path, sizeof path, "/open311/v2/requests.json?service_request_id=%s&status=open", b);
    assert_int_equal(s_count(path), 1);

    assert_int_equal(s_count("/open311/v2/requests.json?service_code=env.noise"), 2);
    assert_int_equal(s_count("/open311/v2/requests.json?service_code=water.outage"), 1);
    assert_int_equal(s_count("/open311/v2/requests.json?status=open"), 2);
    assert_int_equal(s_count("/open311/v2/requests.json?status=closed"), 1);
    assert_int_equal(s_count("/open311/v2/requests.json?status=closed&service_code=water.outage"),
                     0);
    /* a window in the past holds nothing; one around now holds all */
    assert_int_equal(
        s_count("/open311/v2/"
                "requests.json?start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z"),
        0);
    hl_ms now = td_server_now(op);
    char s1[HL_TIME_LEN], s2[HL_TIME_LEN];
    hl_time_format(now - 3600 * 1000, s1);
    hl_time_format(now + 3600 * 1000, s2);
    snprintf(path, sizeof path, "/open311/v2/requests.json?start_date=%s&end_date=%s", s1, s2);
    assert_int_equal(s_count(path), 3);
    snprintf(path, sizeof path, "/open311/v2/requests.json?start_date=%s", s2);
    assert_int_equal(s_count(path), 0);

    const char *bad[] = {
        "/open311/v2/requests.json?status=pending",
        "/open311/v2/requests.json?start_date=yesterday",
        "/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
        "/open311/v2/requests.json?start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
        "/open311/v2/requests.json?service_code=no.such"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        th_resp *r = th_http_get(s_port, bad[i]);
        s_check_error(r, 400, 0);
        th_resp_free(r);
    }
    th_resp *r = th_http_get(s_port, "/open311/v2/requests.xml?status=pending");
    s_check_error(r, 400, 1);
    th_resp_free(r);
    th_client_destroy(&op);
    free(a);
    free(b);
    free(c);
}

static void test_chunked_post_and_keep_alive(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    const char *body = "service_code=env.noise&lat=30.005&long=100.005";
    char req[512];
    snprintf(req, sizeof req,
             "POST /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
             "%zx\r\n%s\r\n0\r\n\r\n",
             strlen(body), body);
    th_conn_sends(c, req);
    th_resp *r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 201);
    th_resp_free(r);
    th_conn_sends(c, "GET /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\n\r\n");
    r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 200);
    cJSON *j = th_resp_json(r);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
    th_resp_free(r);
    th_conn_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_discovery, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_services_are_the_categories, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_service_definition, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_post_makes_a_ticket, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_post_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_require_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_get_requests_fields_and_mapping, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_get_requests_filters, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_chunked_post_and_keep_alive, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_api_keys_reloaded_on_sighup, s_setup, s_teardown),
    };
    return TH_MAIN("test_open311", tests);
}
