/* hotline/curve.h — CURVE keys for secure mode: key files (one Z85 key of
 * 40 characters and an optional newline; NAME.key public, NAME.key_secret
 * secret and readable by its owner only), key pairs, and the options that
 * make a client socket speak CURVE to the dispatcher. */
#ifndef HOTLINE_CURVE_H
#define HOTLINE_CURVE_H

#define HL_KEY_LEN 40 /* a Z85 CURVE key, without the NUL */

/* A client's keys: the server's public key, this client's public and
 * secret keys, each Z85 and NUL-terminated. */
typedef struct hl_curve_keys {
    char server[HL_KEY_LEN + 1];
    char public_key[HL_KEY_LEN + 1];
    char secret[HL_KEY_LEN + 1];
} hl_curve_keys;

/* 1 when libzmq was built with CURVE. */
int hl_curve_available(void);

/* 1 when s is exactly 40 Z85 characters that decode to a 32-byte key. */
int hl_key_valid(const char *s);

/* Read a key file into out. With secret set, the file must be a regular
 * file with no permission bits for group or others (0600 or 0400); a file
 * named NAME.key next to an existing NAME.key_secret is taken for the
 * public half given by mistake. Returns 0, or -1 with *err (caller frees)
 * saying what is wrong and what to do. */
int hl_key_read(const char *path, int secret, char out[HL_KEY_LEN + 1], char **err);

/* A key given on a command line: the Z85 key itself (40 characters, when no
 * file has that name and it does not end in ".key") or the path of a public
 * key file. 0 or -1 with *err. */
int hl_key_arg(const char *arg, char out[HL_KEY_LEN + 1], char **err);

/* The public key of a secret key (zmq_curve_public). 0, or -1 when the
 * secret is not a valid key or libzmq has no CURVE. */
int hl_key_public(const char *secret, char out[HL_KEY_LEN + 1]);

/* A fresh key pair. 0, or -1 when libzmq has no CURVE. */
int hl_key_pair(char public_key[HL_KEY_LEN + 1], char secret[HL_KEY_LEN + 1]);

/* Write a key file that must not exist yet: mode 0600 with secret set,
 * else 0644. 0, or -1 with *err (an existing file is never overwritten). */
int hl_key_write(const char *path, const char *key, int secret, char **err);

/* A client's keys from its secret key file (the public half is derived)
 * and the server's key (hl_key_arg). 0 or -1 with *err. */
int hl_curve_load(const char *secret_file, const char *server_arg, hl_curve_keys *out, char **err);

/* Make a not yet connected client socket (DEALER, SUB) speak CURVE with
 * these keys. 0, or -1 when libzmq refuses (errno set). */
int hl_curve_apply(void *zsock, const hl_curve_keys *k);

#endif
