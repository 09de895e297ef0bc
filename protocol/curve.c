/* curve.c — CURVE key files and client socket options (hotline/curve.h).
 * Owns nothing beyond the call; never prints: every failure is returned
 * as a message for the program to show. */
#include "hotline/curve.h"
#include "hotline/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static const char s_z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            ".-:+=^!/*?&<>()[]{}@%$#";

int hl_curve_available(void)
{
    return zmq_has("curve") == 1;
}

int hl_key_valid(const char *s)
{
    if (!s || strlen(s) != HL_KEY_LEN) return 0;
    for (int i = 0; i < HL_KEY_LEN; i += 5) {
        /* each group of five characters is a 32-bit big-endian number */
        uint64_t v = 0;
        for (int k = 0; k < 5; k++) {
            const char *at = strchr(s_z85, s[i + k]);
            if (!s[i + k] || !at) return 0;
            v = v * 85 + (uint64_t)(at - s_z85);
        }
        if (v > 0xFFFFFFFFu) return 0;
    }
    return 1;
}

/* The key of a file's text: 40 characters and an optional line end. */
static int s_key_text(const char *text, size_t len, char out[HL_KEY_LEN + 1])
{
    if (len < HL_KEY_LEN) return -1;
    const char *rest = text + HL_KEY_LEN;
    size_t nrest = len - HL_KEY_LEN;
    if (!(nrest == 0 || (nrest == 1 && rest[0] == '\n') ||
          (nrest == 2 && rest[0] == '\r' && rest[1] == '\n')))
        return -1;
    char key[HL_KEY_LEN + 1];
    memcpy(key, text, HL_KEY_LEN);
    key[HL_KEY_LEN] = '\0';
    if (!hl_key_valid(key)) return -1;
    memcpy(out, key, sizeof key);
    return 0;
}

static int s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int hl_key_read(const char *path, int secret, char out[HL_KEY_LEN + 1], char **err)
{
    if (secret && s_ends_with(path, ".key")) {
        char *sec = hl_sprintf("%s_secret", path);
        struct stat sb;
        int exists = stat(sec, &sb) == 0;
        if (exists) {
            *err = hl_sprintf("%s is the public half of a key pair; give the secret key file %s",
                              path, sec);
            free(sec);
            return -1;
        }
        free(sec);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = hl_sprintf("cannot read the %s key file %s: %s", secret ? "secret" : "public", path,
                          strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        *err = hl_sprintf("%s is not a regular file; a key file holds one Z85 key", path);
        close(fd);
        return -1;
    }
    if (secret && (sb.st_mode & 077)) {
        *err = hl_sprintf("the secret key file %s has mode %04o: a secret key must be readable "
                          "by its owner only; run: chmod 600 %s",
                          path, (unsigned)(sb.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    int saved = errno;
    close(fd);
    if (n < 0) {
        *err = hl_sprintf("cannot read the key file %s: %s", path, strerror(saved));
        return -1;
    }
    if (s_key_text(buf, (size_t)n, out) != 0) {
        *err = hl_sprintf("%s does not hold a CURVE key: a key file holds exactly 40 Z85 "
                          "characters and an optional newline (hotline keygen writes them)",
                          path);
        return -1;
    }
    return 0;
}

int hl_key_arg(const char *arg, char out[HL_KEY_LEN + 1], char **err)
{
    struct stat sb;
    /* a path of 40 Z85 characters would pass for a key: one that names a
     * key file (.key) is always a path */
    if (hl_key_valid(arg) && stat(arg, &sb) != 0 && !s_ends_with(arg, ".key")) {
        memcpy(out, arg, HL_KEY_LEN + 1);
        return 0;
    }
    if (stat(arg, &sb) != 0) {
        *err = hl_sprintf("\"%s\" is neither a key file (%s) nor a Z85 CURVE key of 40 "
                          "characters",
                          arg, strerror(errno));
        return -1;
    }
    return hl_key_read(arg, 0, out, err);
}

int hl_key_public(const char *secret, char out[HL_KEY_LEN + 1])
{
    if (!hl_key_valid(secret)) return -1;
    char pub[HL_KEY_LEN + 1];
    if (zmq_curve_public(pub, secret) != 0) return -1;
    memcpy(out, pub, sizeof pub);
    return 0;
}

int hl_key_pair(char public_key[HL_KEY_LEN + 1], char secret[HL_KEY_LEN + 1])
{
    return zmq_curve_keypair(public_key, secret) == 0 ? 0 : -1;
}

int hl_key_write(const char *path, const char *key, int secret, char **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            *err = hl_sprintf("%s exists; a key file is never overwritten (remove it first, or "
                              "choose another --out)",
                              path);
        else
            *err = hl_sprintf("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    /* the umask may have taken bits away, never added them; be sure */
    if (secret) fchmod(fd, 0600);
    char line[HL_KEY_LEN + 2];
    memcpy(line, key, HL_KEY_LEN);
    line[HL_KEY_LEN] = '\n';
    ssize_t n = write(fd, line, sizeof line - 1);
    int saved = errno;
    if (n != (ssize_t)(sizeof line - 1) || fsync(fd) != 0) {
        if (n >= 0) saved = errno ? errno : EIO;
        close(fd);
        unlink(path);
        *err = hl_sprintf("cannot write %s: %s", path, strerror(saved));
        return -1;
    }
    if (close(fd) != 0) {
        *err = hl_sprintf("cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

int hl_curve_load(const char *secret_file, const char *server_arg, hl_curve_keys *out, char **err)
{
    hl_curve_keys k;
    memset(&k, 0, sizeof k);
    if (!hl_curve_available()) {
        *err = hl_sprintf("this libzmq was built without CURVE; secure mode needs libzmq with "
                          "libsodium (Debian: libzmq5)");
        return -1;
    }
    if (hl_key_read(secret_file, 1, k.secret, err) != 0) return -1;
    if (hl_key_public(k.secret, k.public_key) != 0) {
        *err = hl_sprintf("%s: cannot derive the public key from this secret key", secret_file);
        return -1;
    }
    char *e2 = NULL;
    if (hl_key_arg(server_arg, k.server, &e2) != 0) {
        *err = hl_sprintf("the server key: %s", e2);
        free(e2);
        return -1;
    }
    *out = k;
    return 0;
}

int hl_curve_apply(void *zsock, const hl_curve_keys *k)
{
    if (zmq_setsockopt(zsock, ZMQ_CURVE_SERVERKEY, k->server, HL_KEY_LEN) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_PUBLICKEY, k->public_key, HL_KEY_LEN) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_SECRETKEY, k->secret, HL_KEY_LEN) != 0)
        return -1;
    return 0;
}
