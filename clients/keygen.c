/* keygen.c — hotline keygen: make a CURVE key pair for secure mode, write
 * it as PREFIX.key / PREFIX.key_secret (never over an existing file), print
 * the keys-file entry of the principal and, with --keys, add it to the
 * dispatcher's keys file. Works offline: never talks to the dispatcher. */
#include "cli.h"

#include "hotline/curve.h"
#include "hotline/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_fail(const char *fmt, ...) HL_PRINTF(1, 2);
static int s_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hotline keygen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return CLI_REFUSED;
}

/* mkdir -p of the directory part of path; new directories are 0700, since
 * they are made to hold secret keys. */
static int s_make_dirs(const char *path)
{
    char *dir = hl_strdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        free(dir);
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char was = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            int rc = s_fail("cannot create the directory %s: %s", dir, strerror(errno));
            free(dir);
            return rc;
        }
        *p = was;
        if (!was) break;
    }
    free(dir);
    return 0;
}

/* The principal object {"role", "unit"?, "name"?}. */
static cJSON *s_principal(const char *role, const char *unit, const char *name)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "role", role);
    if (unit) cJSON_AddStringToObject(p, "unit", unit);
    if (name) cJSON_AddStringToObject(p, "name", name);
    return p;
}

/* Add "key": principal to the keys file (created when missing), one entry
 * a line, through a temporary file and a rename so the dispatcher never
 * reads half a file. */
static int s_add_to_keys(const char *path, const char *key, const cJSON *principal)
{
    cJSON *root = NULL;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        size_t len;
        char *err = NULL;
        char *text = hl_read_file(path, &len, &err);
        if (!text) {
            int rc = s_fail("%s", err);
            free(err);
            return rc;
        }
        root = cJSON_ParseWithLength(text, len);
        free(text);
        if (!cJSON_IsObject(root)) {
            cJSON_Delete(root);
            return s_fail("%s is not a keys file (a JSON object of public keys); fix it or give "
                          "another --keys",
                          path);
        }
    } else if (errno != ENOENT) {
        return s_fail("cannot read %s: %s", path, strerror(errno));
    } else {
        root = cJSON_CreateObject();
    }
    if (cJSON_GetObjectItemCaseSensitive(root, key)) {
        cJSON_Delete(root);
        return s_fail("%s already lists the key %s", path, key);
    }
    cJSON_AddItemToObject(root, key, cJSON_Duplicate(principal, 1));
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_adds(&b, "{\n");
    const cJSON *m;
    cJSON_ArrayForEach(m, root)
    {
        cJSON *ks = cJSON_CreateString(m->string);
        char *kt = cJSON_PrintUnformatted(ks);
        char *vt = cJSON_PrintUnformatted(m);
        hl_buf_printf(&b, "  %s: %s%s\n", kt, vt, m->next ? "," : "");
        free(kt);
        free(vt);
        cJSON_Delete(ks);
    }
    hl_buf_adds(&b, "}\n");
    cJSON_Delete(root);
    if (s_make_dirs(path) != 0) {
        hl_buf_free(&b);
        return CLI_REFUSED;
    }
    char *tmp = hl_sprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fwrite(b.data, 1, b.len, f) == b.len;
    if (f) ok = (fflush(f) == 0 && fsync(fileno(f)) == 0) && ok;
    if (f && fclose(f) != 0) ok = 0;
    hl_buf_free(&b);
    if (!ok || rename(tmp, path) != 0) {
        int rc = s_fail("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    return CLI_OK;
}

int cmd_keygen(cli *c, int argc, char **argv)
{
    (void)c;
    static const cli_optspec opts[] = {{"role", 1}, {"unit", 1}, {"name", 1},
                                       {"out", 1},  {"keys", 1}, {NULL, 0}};
    cli_args a;
    int rc = cli_args_parse(&a, "keygen", argc, argv, opts);
    if (rc) return rc;
    if (a.npos) return cli_usage("keygen", "unexpected argument \"%s\"", a.pos[0]);
    const char *role = cli_opt(&a, "role"), *unit = cli_opt(&a, "unit");
    const char *name = cli_opt(&a, "name"), *out = cli_opt(&a, "out");
    const char *keys = cli_opt(&a, "keys");
    if (!role && (unit || name || keys))
        return cli_usage("keygen", "--unit, --name and --keys describe a client's key; give "
                                   "--role too (without --role keygen makes the dispatcher's key)");
    if (role && strcmp(role, "operator") != 0 && strcmp(role, "manager") != 0 &&
        strcmp(role, "worker") != 0)
        return cli_usage("keygen", "--role must be operator, manager or worker, not \"%s\"", role);
    if (role && strcmp(role, "worker") == 0 && !unit)
        return cli_usage("keygen", "a worker's key belongs to a unit: give --unit ID");
    if (unit && (!*unit || strlen(unit) > 64))
        return cli_usage("keygen", "--unit must be a unit id of 1 to 64 characters");
    if (name && (!hl_utf8_valid(name, strlen(name)) || hl_utf8_count(name) > 64))
        return cli_usage("keygen", "--name must be text of at most 64 characters");
    if (out && !*out) return cli_usage("keygen", "--out needs a file name prefix");
    if (!hl_curve_available())
        return s_fail("this libzmq was built without CURVE; secure mode needs libzmq with "
                      "libsodium (Debian: libzmq5)");

    char *pubpath = out ? hl_sprintf("%s.key", out) : NULL;
    char *secpath = out ? hl_sprintf("%s.key_secret", out) : NULL;
    char pub[HL_KEY_LEN + 1], sec[HL_KEY_LEN + 1];
    cJSON *principal = role ? s_principal(role, unit, name) : NULL;
    struct stat sb;
    rc = CLI_OK;
    if (out && (stat(pubpath, &sb) == 0 || stat(secpath, &sb) == 0)) {
        rc = s_fail("%s exists; a key file is never overwritten (remove %s.key and "
                    "%s.key_secret first, or choose another --out)",
                    stat(secpath, &sb) == 0 ? secpath : pubpath, out, out);
        goto done;
    }
    if (hl_key_pair(pub, sec) != 0) {
        rc = s_fail("cannot make a key pair: %s", strerror(errno));
        goto done;
    }
    if (out) {
        char *err = NULL;
        if ((rc = s_make_dirs(secpath)) != 0) goto done;
        if (hl_key_write(secpath, sec, 1, &err) != 0) {
            rc = s_fail("%s", err);
            free(err);
            goto done;
        }
        if (hl_key_write(pubpath, pub, 0, &err) != 0) {
            rc = s_fail("%s", err);
            free(err);
            unlink(secpath);
            goto done;
        }
    }
    if (keys && (rc = s_add_to_keys(keys, pub, principal)) != CLI_OK) {
        if (out) {
            unlink(secpath);
            unlink(pubpath);
        }
        goto done;
    }
    if (!out) {
        /* nothing written: the pair goes to stdout for the caller to keep */
        printf("public %s\nsecret %s\n", pub, sec);
    } else if (!role) {
        printf("%s\n", pub);
    }
    if (principal) {
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddItemToObject(entry, pub, cJSON_Duplicate(principal, 1));
        char *text = cJSON_PrintUnformatted(entry);
        printf("%s\n", text);
        free(text);
        cJSON_Delete(entry);
    }
    if (out)
        fprintf(stderr,
                "hotline keygen: wrote %s (public key, to give out) and %s (secret key, mode "
                "0600, stays with its owner)\n",
                pubpath, secpath);
    else
        fprintf(stderr, "hotline keygen: nothing written; keep the secret key secret (--out "
                        "PREFIX writes the pair to files)\n");
    if (keys)
        fprintf(stderr,
                "hotline keygen: added the key to %s; send SIGHUP to the dispatcher to admit it\n",
                keys);
    memset(sec, 0, sizeof sec);
done:
    cJSON_Delete(principal);
    free(pubpath);
    free(secpath);
    fflush(stdout);
    return rc;
}
