/* test_util.c — UTF-8 validation and display width, the hash map, buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hotline/map.h"
#include "hotline/utf8.h"
#include "hotline/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_utf8_valid(void **state)
{
    (void)state;
    const char *good[] = {"", "abc", "噪音扰民", "é", "\xf0\x9f\x93\x9e" /* 📞 */};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(hl_utf8_valid(good[i], strlen(good[i])));
    const char *bad[] = {"\x80", "\xc3", "\xc0\x80", "\xe0\x80\xaf", "\xed\xb0\x80",
                         "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xe5\xad", "a\xffz"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hl_utf8_valid(bad[i], strlen(bad[i]))) fail_msg("accepted bad[%zu]", i);
    assert_false(hl_utf8_valid("a\0b", 3));
}

static void test_utf8_width(void **state)
{
    (void)state;
    assert_int_equal(hl_utf8_count("贾悦镇abc"), 6);
    assert_int_equal(hl_utf8_width("贾悦镇abc"), 9);
    assert_int_equal(hl_utf8_width("ＡＢ"), 4); /* full-width forms */
    char buf[64];
    hl_utf8_pad("贾悦镇", 8, buf, sizeof buf);
    assert_string_equal(buf, "贾悦镇  ");
    assert_int_equal(hl_utf8_width(buf), 8);
    /* clipped: never splits a character, ends with an ellipsis, exact width */
    hl_utf8_pad("诸城市水务集团", 7, buf, sizeof buf);
    assert_int_equal(hl_utf8_width(buf), 7);
    assert_string_equal(buf, "诸城市…");
    hl_utf8_pad("abcdef", 4, buf, sizeof buf);
    assert_string_equal(buf, "abc…");
    assert_int_equal(hl_utf8_fit("诸城", 3), 3);
}

static void test_map(void **state)
{
    (void)state;
    hl_map *m = hl_map_new();
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        hl_map_puts(m, key, (void *)(intptr_t)(i + 1));
    }
    assert_int_equal(hl_map_size(m), 10000);
    for (int i = 0; i < 10000; i += 2) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal((intptr_t)hl_map_del(m, key, strlen(key)), i + 1);
    }
    assert_int_equal(hl_map_size(m), 5000);
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        void *v = hl_map_gets(m, key);
        if (i % 2)
            assert_int_equal((intptr_t)v, i + 1);
        else
            assert_null(v);
    }
    /* replace keeps the size; iteration sees every live entry once */
    hl_map_puts(m, "k1", (void *)(intptr_t)77);
    assert_int_equal(hl_map_size(m), 5000);
    size_t pos = 0, seen = 0;
    const void *k;
    size_t len;
    void *v;
    while (hl_map_next(m, &pos, &k, &len, &v)) seen++;
    assert_int_equal(seen, 5000);
    /* binary keys (routing ids) with NUL bytes */
    const char bin1[] = {0, 1, 2}, bin2[] = {0, 1, 3};
    hl_map_put(m, bin1, 3, (void *)1);
    assert_null(hl_map_get(m, bin2, 3));
    assert_ptr_equal(hl_map_get(m, bin1, 3), (void *)1);
    hl_map_destroy(&m);
    assert_null(m);
}

static void test_buf(void **state)
{
    (void)state;
    hl_buf b;
    hl_buf_init(&b);
    for (int i = 0; i < 1000; i++) hl_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_true(strncmp(b.data, "0,1,2,", 6) == 0);
    char *s = hl_buf_steal(&b);
    assert_null(b.data);
    free(s);
    char small[4];
    assert_int_equal(hl_strlcpy(small, "abcdef", sizeof small), 6);
    assert_string_equal(small, "abc");
    char *p = hl_sprintf("%s-%d", "x", 5);
    assert_string_equal(p, "x-5");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_width),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
