/* test_curve.c — CURVE key files: what counts as a key, reading public and
 * secret key files (line ends, modes, the public half given by mistake),
 * writing without overwriting, keys given on a command line, derivation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hotline/curve.h"
#include "hotline/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[256];

static const char *s_path(const char *name)
{
    static char slots[4][512];
    static int next;
    char *p = slots[next++ % 4];
    snprintf(p, 512, "%s/%s", s_dir, name);
    return p;
}

static void s_write(const char *name, const char *text, int mode)
{
    const char *p = s_path(name);
    unlink(p);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(p, (mode_t)mode);
}

static int setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/hotline-test-curve-%d", (int)getpid());
    mkdir(s_dir, 0700);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_valid(void **state)
{
    (void)state;
    char pub[41], sec[41];
    assert_int_equal(hl_key_pair(pub, sec), 0);
    assert_true(hl_key_valid(pub));
    assert_true(hl_key_valid(sec));
    assert_false(hl_key_valid(NULL));
    assert_false(hl_key_valid(""));
    char k[48];
    memcpy(k, pub, 41);
    k[39] = '\0';
    assert_false(hl_key_valid(k)); /* 39 characters */
    snprintf(k, sizeof k, "%s0", pub);
    assert_false(hl_key_valid(k)); /* 41 */
    memcpy(k, pub, 41);
    k[7] = ' ';
    assert_false(hl_key_valid(k)); /* not in the Z85 alphabet */
    memcpy(k, pub, 41);
    k[3] = '"';
    assert_false(hl_key_valid(k));
    /* "#####" is beyond 2^32: not the encoding of any four bytes */
    memcpy(k, pub, 41);
    memcpy(k + 5, "#####", 5);
    assert_false(hl_key_valid(k));
}

static void test_public_of_secret(void **state)
{
    (void)state;
    char pub[41], sec[41], derived[41];
    assert_int_equal(hl_key_pair(pub, sec), 0);
    assert_int_equal(hl_key_public(sec, derived), 0);
    assert_string_equal(derived, pub);
    assert_int_equal(hl_key_public("short", derived), -1);
}

static void test_read(void **state)
{
    (void)state;
    char pub[41], sec[41], got[41], line[64];
    char *err = NULL;
    assert_int_equal(hl_key_pair(pub, sec), 0);
    /* a key, with or without a line end */
    s_write("a.key", pub, 0644);
    assert_int_equal(hl_key_read(s_path("a.key"), 0, got, &err), 0);
    assert_string_equal(got, pub);
    snprintf(line, sizeof line, "%s\n", pub);
    s_write("a.key", line, 0644);
    assert_int_equal(hl_key_read(s_path("a.key"), 0, got, &err), 0);
    assert_string_equal(got, pub);
    snprintf(line, sizeof line, "%s\r\n", pub);
    s_write("a.key", line, 0644);
    assert_int_equal(hl_key_read(s_path("a.key"), 0, got, &err), 0);
    /* anything else is not a key file */
    const char *bad[] = {"", "short\n", "%s\n\n", "%s x", " %s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line, bad[i], pub);
        s_write("b.key", line, 0644);
        assert_int_equal(hl_key_read(s_path("b.key"), 0, got, &err), -1);
        assert_non_null(strstr(err, "does not hold a CURVE key"));
        free(err);
        err = NULL;
    }
    /* a missing file says so */
    assert_int_equal(hl_key_read(s_path("none.key"), 0, got, &err), -1);
    assert_non_null(strstr(err, "No such file"));
    free(err);
    err = NULL;
}

static void test_secret_mode(void **state)
{
    (void)state;
    char pub[41], sec[41], got[41];
    char *err = NULL;
    assert_int_equal(hl_key_pair(pub, sec), 0);
    s_write("c.key_secret", sec, 0600);
    assert_int_equal(hl_key_read(s_path("c.key_secret"), 1, got, &err), 0);
    assert_string_equal(got, sec);
    chmod(s_path("c.key_secret"), 0400);
    assert_int_equal(hl_key_read(s_path("c.key_secret"), 1, got, &err), 0);
    int modes[] = {0644, 0640, 0604, 0660};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        chmod(s_path("c.key_secret"), (mode_t)modes[i]);
        assert_int_equal(hl_key_read(s_path("c.key_secret"), 1, got, &err), -1);
        char want[16];
        snprintf(want, sizeof want, "mode %04o", modes[i]);
        assert_non_null(strstr(err, want));
        assert_non_null(strstr(err, "chmod 600"));
        free(err);
        err = NULL;
    }
    /* a public key file is read whatever its mode */
    chmod(s_path("c.key_secret"), 0644);
    assert_int_equal(hl_key_read(s_path("c.key_secret"), 0, got, &err), 0);
    /* NAME.key given where NAME.key_secret is wanted */
    s_write("c.key", pub, 0644);
    assert_int_equal(hl_key_read(s_path("c.key"), 1, got, &err), -1);
    assert_non_null(strstr(err, "public half"));
    free(err);
}

static void test_write(void **state)
{
    (void)state;
    char pub[41], sec[41], got[41];
    char *err = NULL;
    assert_int_equal(hl_key_pair(pub, sec), 0);
    unlink(s_path("d.key_secret"));
    mode_t old = umask(0);
    assert_int_equal(hl_key_write(s_path("d.key_secret"), sec, 1, &err), 0);
    umask(old);
    struct stat sb;
    assert_int_equal(stat(s_path("d.key_secret"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(hl_key_read(s_path("d.key_secret"), 1, got, &err), 0);
    assert_string_equal(got, sec);
    /* never over an existing file */
    assert_int_equal(hl_key_write(s_path("d.key_secret"), pub, 1, &err), -1);
    assert_non_null(strstr(err, "never overwritten"));
    free(err);
    err = NULL;
    assert_int_equal(hl_key_read(s_path("d.key_secret"), 1, got, &err), 0);
    assert_string_equal(got, sec);
}

static void test_arg_and_load(void **state)
{
    (void)state;
    char spub[41], ssec[41], cpub[41], csec[41], got[41];
    char *err = NULL;
    assert_int_equal(hl_key_pair(spub, ssec), 0);
    assert_int_equal(hl_key_pair(cpub, csec), 0);
    /* the key itself, or a file */
    assert_int_equal(hl_key_arg(spub, got, &err), 0);
    assert_string_equal(got, spub);
    s_write("server.key", spub, 0644);
    assert_int_equal(hl_key_arg(s_path("server.key"), got, &err), 0);
    assert_string_equal(got, spub);
    assert_int_equal(hl_key_arg("0123456789012345678901234567890123456789", got, &err), 0);
    assert_int_equal(hl_key_arg("not-a-key-and-no-file-of-this-name-either", got, &err), -1);
    assert_non_null(strstr(err, "is neither a key file"));
    free(err);
    err = NULL;
    /* a client's keys: the public half derived from the secret */
    s_write("client.key_secret", csec, 0600);
    hl_curve_keys k;
    assert_int_equal(hl_curve_load(s_path("client.key_secret"), s_path("server.key"), &k, &err),
                     0);
    assert_string_equal(k.server, spub);
    assert_string_equal(k.public_key, cpub);
    assert_string_equal(k.secret, csec);
    assert_int_equal(hl_curve_load(s_path("client.key_secret"), s_path("nowhere.key"), &k, &err),
                     -1);
    assert_non_null(strstr(err, "the server key"));
    free(err);
    err = NULL;
    /* a missing .key file is never taken for a key, even when its name
     * is 40 Z85 characters */
    assert_int_equal(hl_key_arg("/tmp/abcdefghijklmnopqrstuvwxyz-0123.key", got, &err), -1);
    assert_non_null(strstr(err, "No such file"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),      cmocka_unit_test(test_public_of_secret),
        cmocka_unit_test(test_read),       cmocka_unit_test(test_secret_mode),
        cmocka_unit_test(test_write),      cmocka_unit_test(test_arg_and_load),
    };
    return cmocka_run_group_tests_name("curve", tests, setup, teardown);
}
