/* test_check.c — `hotline-dispatcher -c FILE --check`: the shipped configs
 * pass with a summary; each kind of fault exits 2 naming its JSON path. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static int check(const char *config, char **out, char **err)
{
    const char *argv[] = {th_bin("hotline-dispatcher"), "-c", config, "--check", NULL};
    return th_run(argv, NULL, out, err, 10000);
}

static void test_demo_config(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(check(th_src("config/zhucheng.json"), &out, &err), 0);
    assert_non_null(strstr(out, "configuration is valid"));
    assert_non_null(strstr(out, "1 city"));
    assert_non_null(strstr(out, "14 town"));
    assert_non_null(strstr(out, "cells"));
    assert_non_null(strstr(out, "categories"));
    assert_non_null(strstr(out, "rules"));
    free(out);
    free(err);
}

/* Write a config with one fault and expect exit 2 and the path in stderr. */
static void expect_refusal(const char *name, const char *text, const char *needle)
{
    char *out, *err;
    int rc = check(th_write(name, text), &out, &err);
    if (rc != 2) fail_msg("%s: exit %d, want 2; stderr: %s", name, rc, err);
    if (!strstr(err, needle)) fail_msg("%s: stderr lacks \"%s\": %s", name, needle, err);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

#define CITY "{\"id\":\"c\",\"name\":\"市\",\"level\":\"city\"}"
#define CAT "\"categories\":[{\"code\":\"x\",\"name\":\"其他\",\"handling\":\"territorial\"}]"

static void test_faults(void **state)
{
    (void)state;
    expect_refusal("parent.json",
                   "{\"units\":[" CITY ",{\"id\":\"c.a\",\"name\":\"甲\",\"level\":\"town\","
                   "\"parent\":\"c.foo\"}]," CAT "}",
                   "config: units[1].parent: unknown unit \"c.foo\"");
    expect_refusal("dup.json",
                   "{\"units\":[" CITY ",{\"id\":\"c\",\"name\":\"乙\",\"level\":\"town\"}]," CAT "}",
                   "config: units[1]: duplicate unit id \"c\"");
    expect_refusal("cycle.json",
                   "{\"units\":[{\"id\":\"a\",\"name\":\"甲\",\"level\":\"town\",\"parent\":\"b\"},"
                   "{\"id\":\"b\",\"name\":\"乙\",\"level\":\"town\",\"parent\":\"a\"}]," CAT "}",
                   "parent cycle");
    expect_refusal("duration.json",
                   "{\"units\":[" CITY "]," CAT ",\"sla\":{\"urgent\":{\"sign\":\"soon\"}}}",
                   "config: sla.urgent.sign: bad duration \"soon\"");
    expect_refusal("dept.json",
                   "{\"units\":[" CITY "],\"categories\":[{\"code\":\"w\",\"name\":\"停水\","
                   "\"handling\":\"department\"}]}",
                   "config: categories[0].department: is required");
    expect_refusal("rule.json",
                   "{\"units\":[" CITY "]," CAT ",\"rules\":[{\"name\":\"r\",\"when\":{}}]}",
                   "config: rules[0].lead: is required");
    expect_refusal("json.json", "{\"units\":", "not valid JSON");
}

static void test_usage(void **state)
{
    (void)state;
    char *out, *err;
    const char *argv[] = {th_bin("hotline-dispatcher"), "--bogus", NULL};
    assert_int_equal(th_run(argv, NULL, &out, &err, 5000), 2);
    assert_non_null(strstr(err, "usage"));
    free(out);
    free(err);
    const char *argv2[] = {th_bin("hotline-dispatcher"), "--version", NULL};
    assert_int_equal(th_run(argv2, NULL, &out, &err, 5000), 0);
    assert_non_null(strstr(out, "hotline-dispatcher"));
    free(out);
    free(err);
    const char *argv3[] = {th_bin("hotline-dispatcher"), "-c", "/nonexistent/x.json", "--check", NULL};
    assert_int_equal(th_run(argv3, NULL, &out, &err, 5000), 2);
    assert_non_null(strstr(err, "/nonexistent/x.json"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_config),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_usage),
    };
    return TH_MAIN("check", tests);
}
