/* test_dispatcher_route.c — routing through the real dispatcher, with the
 * small test city and the 诸城市 demo: where each ticket lands (lead, co,
 * cell, town, status), that the units hear of it in their feeds, and that
 * the deadlines follow the category's and urgency's SLA. */
#include "test_dispatcher.h"

/* Create and check lead / co (comma-separated) / cell / town / status. */
static int64_t s_route(th_client *c, const char *ticket, const char *lead, const char *co,
                       const char *cell, const char *town)
{
    cJSON *r = td_create(c, ticket);
    td_assert_str(r, "ticket.lead", lead);
    td_assert_str(r, "ticket.location.cell", cell);
    td_assert_str(r, "ticket.location.town", town);
    td_assert_str(r, "ticket.status", lead ? "dispatched" : "triage");
    char got[300] = "";
    const cJSON *it;
    cJSON_ArrayForEach(it, th_get(r, "ticket.co"))
    {
        if (got[0]) strcat(got, ",");
        strcat(got, it->valuestring);
    }
    if (strcmp(got, co) != 0) fail_msg("co: got \"%s\", want \"%s\" for %s", got, co, ticket);
    int64_t id = th_geti(r, "ticket.id");
    cJSON_Delete(r);
    return id;
}

/* The kind of the feed item of ticket id in unit's inbox, or NULL. */
static char *s_feed_kind(th_client *w, int64_t id)
{
    cJSON *r = th_ok(w, "inbox", "{\"after\":0,\"limit\":1000}");
    char *kind = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, th_get(r, "items"))
    {
        if (th_geti(it, "ticket.id") == id) {
            free(kind);
            kind = strdup(th_gets(it, "kind"));
        }
    }
    cJSON_Delete(r);
    return kind;
}

static void s_assert_feed(th_client *w, int64_t id, const char *kind)
{
    char *k = s_feed_kind(w, id);
    if (!kind && k) fail_msg("ticket %lld unexpectedly in the feed as %s", (long long)id, k);
    if (kind && (!k || strcmp(k, kind) != 0))
        fail_msg("ticket %lld: feed kind %s, want %s", (long long)id, k ? k : "(none)", kind);
    free(k);
}

static void test_small_city(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client *wb = th_client_new(d.front, "worker", "t.b");
    th_client *wt = th_client_new(d.front, "worker", "t.transport");
    /* explicit cell, grid handling */
    s_route(op,
            "{\"category\":\"env.litter\",\"description\":\"x\",\"location\":{\"cell\":\"C-A1\"}}",
            "t.a.g1", "", "C-A1", "t.a");
    /* a cell owned by a town directly */
    s_route(op,
            "{\"category\":\"env.litter\",\"description\":\"x\",\"location\":{\"cell\":\"C-A2\"}}",
            "t.a", "", "C-A2", "t.a");
    /* point in polygon, territorial */
    int64_t pip = s_route(op,
                          "{\"category\":\"env.noise\",\"description\":\"x\","
                          "\"location\":{\"lat\":30.015,\"lon\":100.025}}",
                          "t.b", "", "C-B1", "t.b");
    s_assert_feed(wb, pip, "assigned");
    /* rule: road.* with the keyword 国道 */
    int64_t road = s_route(op,
                           "{\"category\":\"road.damage\",\"description\":\"国道坑洼\","
                           "\"location\":{\"cell\":\"C-B2\"}}",
                           "t.transport", "", "C-B2", "t.b");
    s_assert_feed(wt, road, "assigned");
    s_assert_feed(wb, road, NULL);
    s_route(op,
            "{\"category\":\"road.damage\",\"description\":\"村道坑洼\","
            "\"location\":{\"cell\":\"C-B2\"}}",
            "t.b", "", "C-B2", "t.b");
    /* rule: urgency critical, co territorial */
    int64_t crit =
        s_route(op,
                "{\"category\":\"env.litter\",\"description\":\"x\",\"urgency\":\"critical\","
                "\"location\":{\"cell\":\"C-B1\"}}",
                "t", "t.b", "C-B1", "t.b");
    s_assert_feed(wb, crit, "assigned"); /* co units hear of it too */
    /* department handling with a territorial co unit */
    int64_t water = s_route(op,
                            "{\"category\":\"water.outage\",\"description\":\"停水\","
                            "\"location\":{\"lat\":30.015,\"lon\":100.035}}",
                            "t.water", "t.b", "C-B2", "t.b");
    s_assert_feed(wb, water, "assigned");
    /* department without location: the co token has nothing to stand for */
    s_route(op, "{\"category\":\"water.outage\",\"description\":\"停水\"}", "t.water", "", NULL,
            NULL);
    /* territorial / grid without a cell: triage */
    s_route(op, "{\"category\":\"env.noise\",\"description\":\"x\"}", NULL, "", NULL, NULL);
    s_route(
        op,
        "{\"category\":\"env.litter\",\"description\":\"x\",\"location\":{\"address\":\"某处\"}}",
        NULL, "", NULL, NULL);
    cJSON *r = td_create(op, "{\"category\":\"env.noise\",\"description\":\"x\","
                             "\"location\":{\"lat\":30.015,\"lon\":100.005}}");
    td_assert_str(r, "ticket.status", "triage");
    td_assert_str(r, "ticket.location.cell", NULL);
    assert_true(th_get(r, "ticket.location.lon")->valuedouble == 100.005);
    cJSON_Delete(r);
    th_err(op, "unknown_cell", "create",
           "{\"ticket\":{\"category\":\"env.noise\",\"description\":\"x\",\"location\":{\"cell\":"
           "\"C-A3\"}}}");
    th_client_destroy(&op);
    th_client_destroy(&wb);
    th_client_destroy(&wt);
    assert_int_equal(th_disp_stop(&d), 0);
}

static void test_zhucheng(void **state)
{
    th_disp d;
    td_start(&d, "config/zhucheng.json");
    th_client *op = th_client_new(d.front, "operator", "zc");
    th_client *wj = th_client_new(d.front, "worker", "zc.jiayue");
    th_client *wg = th_client_new(d.front, "worker", "zc.gas");
    /* 城区中心 (119.41, 35.99) is 密州街道 */
    s_route(op,
            "{\"category\":\"env.noise\",\"description\":\"夜间施工噪音\","
            "\"location\":{\"lat\":35.99,\"lon\":119.41}}",
            "zc.mizhou", "", "370782001001002", "zc.mizhou");
    s_route(op,
            "{\"category\":\"env.litter\",\"description\":\"垃圾未清运\","
            "\"location\":{\"lat\":35.99,\"lon\":119.41}}",
            "zc.mizhou.g01", "", "370782001001002", "zc.mizhou");
    /* explicit 贾悦镇 cell: the water company leads, the town co-handles */
    int64_t water = s_route(op,
                            "{\"category\":\"water.outage\",\"description\":\"村里停水两天\","
                            "\"location\":{\"cell\":\"370782102001001\"}}",
                            "zc.water", "zc.jiayue", "370782102001001", "zc.jiayue");
    s_assert_feed(wj, water, "assigned");
    /* rule 1: critical → 应急管理局 with the town */
    s_route(op,
            "{\"category\":\"safety.hazard\",\"description\":\"厂房起火\",\"urgency\":\"critical\","
            "\"location\":{\"lat\":35.95,\"lon\":119.15}}",
            "zc.emergency", "zc.jiayue", "370782102001003", "zc.jiayue");
    /* rule 2: a gas keyword in any category */
    int64_t gas = s_route(op,
                          "{\"category\":\"misc.other\",\"description\":\"楼道里有燃气味\","
                          "\"location\":{\"cell\":\"370782102002001\"}}",
                          "zc.gas", "zc.jiayue", "370782102002001", "zc.jiayue");
    s_assert_feed(wg, gas, "assigned");
    s_assert_feed(wj, gas, "assigned");
    /* rule 3: road.* with a road keyword (in the title) */
    s_route(op,
            "{\"category\":\"road.damage\",\"title\":\"G206路面塌陷\",\"description\":\"路面塌陷\","
            "\"location\":{\"lat\":35.95,\"lon\":119.15}}",
            "zc.transport", "", "370782102001003", "zc.jiayue");
    /* rule 4: enterprise.* inside 开发区, and outside it */
    s_route(op,
            "{\"category\":\"enterprise.service\",\"description\":\"审批咨询\","
            "\"location\":{\"lat\":36.07,\"lon\":119.40}}",
            "zc.kaifaqu", "zc.approval", "370782400001001", "zc.kaifaqu");
    s_route(op,
            "{\"category\":\"enterprise.service\",\"description\":\"审批咨询\","
            "\"location\":{\"lat\":35.99,\"lon\":119.41}}",
            "zc.approval", "", "370782001001002", "zc.mizhou");
    /* territorial with a department co unit */
    s_route(op,
            "{\"category\":\"env.burning\",\"description\":\"麦田焚烧秸秆\","
            "\"location\":{\"cell\":\"370782102001001\"}}",
            "zc.jiayue", "zc.eco", "370782102001001", "zc.jiayue");
    /* no location: territorial goes to triage, a department still leads */
    s_route(op, "{\"category\":\"misc.other\",\"description\":\"咨询政策\"}", NULL, "", NULL, NULL);
    s_route(op, "{\"category\":\"labor.wages\",\"description\":\"工资被拖欠\"}", "zc.hrss", "",
            NULL, NULL);
    th_err(op, "unknown_cell", "create",
           "{\"ticket\":{\"category\":\"env.noise\",\"description\":\"x\","
           "\"location\":{\"cell\":\"370782999001001\"}}}");
    th_err(op, "unknown_category", "create",
           "{\"ticket\":{\"category\":\"road\",\"description\":\"x\"}}");
    th_client_destroy(&op);
    th_client_destroy(&wj);
    th_client_destroy(&wg);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* Create; how long after its dispatch its sign_due and finish_due are, in ms. */
static void s_sla(th_client *op, const char *ticket, int64_t *sign_ms, int64_t *finish_ms)
{
    cJSON *r = td_create(op, ticket);
    int64_t t0 = td_ms(th_gets(r, "ticket.dispatched_at"));
    *sign_ms = td_ms(th_gets(r, "ticket.sign_due")) - t0;
    *finish_ms = td_ms(th_gets(r, "ticket.finish_due")) - t0;
    cJSON_Delete(r);
}

/* sign_due / finish_due: category override over the urgency default. */
static void test_sla(void **state)
{
    th_disp d;
    td_start(&d, "config/zhucheng.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    struct {
        const char *ticket;
        int64_t sign_ms, finish_ms; /* wall-clock SLAs; 0 = working time, later only */
    } cases[] = {
        {"{\"category\":\"gas.leak\",\"description\":\"x\",\"location\":{\"cell\":"
         "\"370782102001001\"}}",
         10 * 60000, 2 * 3600000},
        {"{\"category\":\"road.manhole\",\"description\":\"x\"}", 3600000, 24 * 3600000},
        {"{\"category\":\"env.noise\",\"description\":\"x\",\"urgency\":\"urgent\","
         "\"location\":{\"cell\":\"370782102001001\"}}",
         30 * 60000, 24 * 3600000},
        {"{\"category\":\"water.outage\",\"description\":\"x\"}", 4 * 3600000, 24 * 3600000},
        {"{\"category\":\"env.noise\",\"description\":\"x\",\"urgency\":\"critical\","
         "\"location\":{\"cell\":\"370782102001001\"}}",
         10 * 60000, 2 * 3600000},
    };
    int64_t sign, fin;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_sla(op, cases[i].ticket, &sign, &fin);
        assert_int_equal(sign, cases[i].sign_ms);
        assert_int_equal(fin, cases[i].finish_ms);
    }
    /* the category's finish (4wh, working time) over critical's 2h; critical's sign */
    s_sla(op,
          "{\"category\":\"env.litter\",\"description\":\"x\",\"urgency\":\"critical\","
          "\"location\":{\"cell\":\"370782102001001\"}}",
          &sign, &fin);
    assert_int_equal(sign, 10 * 60000);
    assert_true(fin >= 4 * 3600000);
    /* 5wd for a normal ticket: 37.5 working hours, so more than four days later */
    s_sla(op, "{\"category\":\"labor.wages\",\"description\":\"x\"}", &sign, &fin);
    assert_true(fin >= 4LL * 24 * 3600000);
    assert_true(fin <= 30LL * 24 * 3600000);
    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_city),
        cmocka_unit_test(test_zhucheng),
        cmocka_unit_test(test_sla),
    };
    return TH_MAIN("dispatcher_route", tests);
}
