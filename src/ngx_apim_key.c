
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * API keys: random keys and ids, the form an imported key must have, the
 * HMAC-SHA-256 of a key under the server secret (the only thing the store
 * keeps), and the secret file with its fingerprint in the store.
 *
 * The HMAC is RFC 2104 done by hand on SHA256_CTX: the two padded key
 * blocks are hashed once, and each key then costs two context copies and
 * three SHA-256 blocks, with no allocation, on the request path.
 */


/* the header defines OPENSSL_SUPPRESS_DEPRECATED before any OpenSSL header */
#include "ngx_apim_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>


#define NGX_APIM_KEY_SECRET_BYTES  32
#define NGX_APIM_ID_RANDOM         11      /* base62 characters of an id */
#define NGX_APIM_ID_PREFIX_MAX     3
#define NGX_APIM_NAME_MAX          64
#define NGX_APIM_FP_DATA           "nginx-apim secret fingerprint"
#define NGX_APIM_FP_META           "secret_fp"


typedef struct {
    const char   *fp;
    int           mismatch;
} ngx_apim_secret_check_t;


static int ngx_apim_base62(char *dst, size_t n);
static void ngx_apim_base64url(char *dst, const unsigned char *src,
    size_t len);
static void ngx_apim_hex(char *dst, const unsigned char *src, size_t len);
static int ngx_apim_secret_write(int fd, const char *path, char *err,
    size_t errlen);
static int ngx_apim_secret_check_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);


static const char  ngx_apim_base62_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static const char  ngx_apim_base64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


/*
 * "ak_" + 11 base62 characters + "_" + 43 base64url characters; the id
 * part never holds '_' or '-', so the id is always the first 14 bytes.
 */

int
ngx_apim_key_generate(char key[NGX_APIM_KEY_LEN + 1],
    char id[NGX_APIM_ID_LEN + 1])
{
    unsigned char  secret[NGX_APIM_KEY_SECRET_BYTES];

    if (ngx_apim_id_generate("ak_", id) != 0) {
        return -1;
    }

    if (RAND_bytes(secret, sizeof(secret)) != 1) {
        return -1;
    }

    memcpy(key, id, NGX_APIM_ID_LEN);
    key[NGX_APIM_ID_LEN] = '_';

    ngx_apim_base64url(key + NGX_APIM_ID_LEN + 1, secret, sizeof(secret));

    key[NGX_APIM_KEY_LEN] = '\0';

    OPENSSL_cleanse(secret, sizeof(secret));

    return 0;
}


/*
 * A prefix of 1 to 3 characters ("ak_", "ik_", "c_") and 11 base62
 * characters: about 65 random bits.
 */

int
ngx_apim_id_generate(const char *prefix, char id[NGX_APIM_ID_LEN + 1])
{
    size_t  n;

    n = strlen(prefix);

    if (n == 0 || n > NGX_APIM_ID_PREFIX_MAX) {
        return -1;
    }

    memcpy(id, prefix, n);

    if (ngx_apim_base62(id + n, NGX_APIM_ID_RANDOM) != 0) {
        return -1;
    }

    id[n + NGX_APIM_ID_RANDOM] = '\0';

    return 0;
}


/*
 * Maps random bytes to base62 by rejection: bytes from 248 (4 * 62) up are
 * dropped, so that every character is equally likely.
 */

static int
ngx_apim_base62(char *dst, size_t n)
{
    size_t         i, k;
    unsigned char  rnd[32];

    k = sizeof(rnd);

    while (n) {

        if (k == sizeof(rnd)) {
            if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
                return -1;
            }

            k = 0;
        }

        i = rnd[k++];

        if (i >= 4 * 62) {
            continue;
        }

        *dst++ = ngx_apim_base62_chars[i % 62];
        n--;
    }

    OPENSSL_cleanse(rnd, sizeof(rnd));

    return 0;
}


/* base64url without padding */

static void
ngx_apim_base64url(char *dst, const unsigned char *src, size_t len)
{
    uint32_t  v;

    while (len >= 3) {
        v = ((uint32_t) src[0] << 16) | ((uint32_t) src[1] << 8) | src[2];

        *dst++ = ngx_apim_base64url_chars[(v >> 18) & 0x3f];
        *dst++ = ngx_apim_base64url_chars[(v >> 12) & 0x3f];
        *dst++ = ngx_apim_base64url_chars[(v >> 6) & 0x3f];
        *dst++ = ngx_apim_base64url_chars[v & 0x3f];

        src += 3;
        len -= 3;
    }

    if (len == 0) {
        return;
    }

    v = (uint32_t) src[0] << 16;

    if (len == 2) {
        v |= (uint32_t) src[1] << 8;
    }

    *dst++ = ngx_apim_base64url_chars[(v >> 18) & 0x3f];
    *dst++ = ngx_apim_base64url_chars[(v >> 12) & 0x3f];

    if (len == 2) {
        *dst = ngx_apim_base64url_chars[(v >> 6) & 0x3f];
    }
}


static void
ngx_apim_hex(char *dst, const unsigned char *src, size_t len)
{
    static const char  hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0x0f];
    }
}


/* an imported key: 8 to 512 bytes of printable ASCII, no spaces */

int
ngx_apim_key_valid(const unsigned char *key, size_t len)
{
    size_t  i;

    if (len < NGX_APIM_KEY_MIN || len > NGX_APIM_KEY_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (key[i] < 0x21 || key[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


void
ngx_apim_hmac_init(ngx_apim_hmac_t *h, const unsigned char *secret,
    size_t len)
{
    size_t         i;
    SHA256_CTX     ctx;
    unsigned char  k[SHA256_CBLOCK], pad[SHA256_CBLOCK];

    memset(k, 0, sizeof(k));

    if (len > SHA256_CBLOCK) {
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, secret, len);
        SHA256_Final(k, &ctx);
        OPENSSL_cleanse(&ctx, sizeof(ctx));

    } else {
        memcpy(k, secret, len);
    }

    for (i = 0; i < SHA256_CBLOCK; i++) {
        pad[i] = k[i] ^ 0x36;
    }

    SHA256_Init(&h->inner);
    SHA256_Update(&h->inner, pad, SHA256_CBLOCK);

    for (i = 0; i < SHA256_CBLOCK; i++) {
        pad[i] = k[i] ^ 0x5c;
    }

    SHA256_Init(&h->outer);
    SHA256_Update(&h->outer, pad, SHA256_CBLOCK);

    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
}


void
ngx_apim_hmac(const ngx_apim_hmac_t *h, const unsigned char *data,
    size_t len, unsigned char out[NGX_APIM_HASH_LEN])
{
    SHA256_CTX     ctx;
    unsigned char  inner[SHA256_DIGEST_LENGTH];

    ctx = h->inner;
    SHA256_Update(&ctx, data, len);
    SHA256_Final(inner, &ctx);

    ctx = h->outer;
    SHA256_Update(&ctx, inner, sizeof(inner));
    SHA256_Final(out, &ctx);
}


/* names the secret without revealing it: 64 bits of an HMAC under it */

void
ngx_apim_secret_fingerprint(const ngx_apim_hmac_t *h,
    char fp[NGX_APIM_FP_LEN + 1])
{
    unsigned char  mac[NGX_APIM_HASH_LEN];

    ngx_apim_hmac(h, (const unsigned char *) NGX_APIM_FP_DATA,
                  sizeof(NGX_APIM_FP_DATA) - 1, mac);

    ngx_apim_hex(fp, mac, NGX_APIM_FP_LEN / 2);
    fp[NGX_APIM_FP_LEN] = '\0';
}


/*
 * Reads the secret into buf: *len is the size of buf on entry (at most
 * NGX_APIM_SECRET_MAX bytes are read) and the secret's length on return.
 * Trailing CR, LF and spaces (an editor's newline) are not part of it.
 */

int
ngx_apim_secret_read(const char *path, unsigned char *buf, size_t *len,
    char *err, size_t errlen)
{
    int      fd;
    char     extra;
    size_t   n, size;
    ssize_t  rc;

    size = (*len < NGX_APIM_SECRET_MAX) ? *len : NGX_APIM_SECRET_MAX;

    fd = open(path, O_RDONLY);
    if (fd == -1) {
        snprintf(err, errlen, "cannot open \"%s\": %s", path,
                 strerror(errno));
        return -1;
    }

    n = 0;

    for ( ;; ) {
        if (n < size) {
            rc = read(fd, buf + n, size - n);

        } else {
            rc = read(fd, &extra, 1);
        }

        if (rc == -1) {
            if (errno == EINTR) {
                continue;
            }

            snprintf(err, errlen, "cannot read \"%s\": %s", path,
                     strerror(errno));
            goto failed;
        }

        if (rc == 0) {
            break;
        }

        if (n == size) {
            snprintf(err, errlen, "\"%s\" is too long: a secret has at most "
                     "%zu bytes", path, size);
            goto failed;
        }

        n += rc;
    }

    close(fd);

    while (n && (buf[n - 1] == '\r' || buf[n - 1] == '\n'
                 || buf[n - 1] == ' '))
    {
        n--;
    }

    if (n < NGX_APIM_SECRET_MIN) {
        OPENSSL_cleanse(buf, size);
        snprintf(err, errlen, "\"%s\" is too short: a secret needs at least "
                 "%d bytes", path, NGX_APIM_SECRET_MIN);
        return -1;
    }

    *len = n;

    return 0;

failed:

    close(fd);
    OPENSSL_cleanse(buf, size);

    return -1;
}


/*
 * Makes a secret of 32 random bytes in hex, mode 0600, unless the file
 * exists (then 0: the caller reads it).  The secret is written to a
 * temporary file and linked into place, so that nginx and apimctl starting
 * at once never read a half-written secret: link() fails with EEXIST for
 * the one that comes second, as O_CREAT|O_EXCL would.
 */

int
ngx_apim_secret_create(const char *path, char *err, size_t errlen)
{
    int     fd;
    char    tmp[4096];
    size_t  n;

    if (access(path, F_OK) == 0) {
        return 0;
    }

    n = strlen(path);

    if (n + 8 > sizeof(tmp)) {
        snprintf(err, errlen, "the path \"%s\" is too long", path);
        return -1;
    }

    /* mkstemp()'s template: the path, a dot, six X */

    memcpy(tmp, path, n);
    tmp[n] = '.';
    memset(tmp + n + 1, 'X', 6);
    tmp[n + 7] = '\0';

    fd = mkstemp(tmp);
    if (fd == -1) {
        snprintf(err, errlen, "cannot create \"%s\": %s", path,
                 strerror(errno));
        return -1;
    }

    if (ngx_apim_secret_write(fd, tmp, err, errlen) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }

    if (close(fd) == -1) {
        snprintf(err, errlen, "cannot write \"%s\": %s", tmp,
                 strerror(errno));
        unlink(tmp);
        return -1;
    }

    if (link(tmp, path) == -1 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create \"%s\": %s", path,
                 strerror(errno));
        unlink(tmp);
        return -1;
    }

    unlink(tmp);

    return 0;
}


/* mkstemp() made the file with mode 0600 */

static int
ngx_apim_secret_write(int fd, const char *path, char *err, size_t errlen)
{
    char           text[2 * 32 + 1];
    size_t         n;
    ssize_t        rc;
    unsigned char  rnd[32];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        snprintf(err, errlen, "RAND_bytes() failed");
        return -1;
    }

    ngx_apim_hex(text, rnd, sizeof(rnd));
    text[2 * 32] = '\n';

    OPENSSL_cleanse(rnd, sizeof(rnd));

    for (n = 0; n < sizeof(text); n += rc) {
        rc = write(fd, text + n, sizeof(text) - n);

        if (rc == -1 && errno == EINTR) {
            rc = 0;
            continue;
        }

        if (rc == -1) {
            snprintf(err, errlen, "cannot write \"%s\": %s", path,
                     strerror(errno));
            OPENSSL_cleanse(text, sizeof(text));
            return -1;
        }
    }

    OPENSSL_cleanse(text, sizeof(text));

    if (fsync(fd) == -1) {
        snprintf(err, errlen, "fsync(\"%s\") failed: %s", path,
                 strerror(errno));
        return -1;
    }

    return 0;
}


/*
 * The fingerprint is read first, so that a matching secret (every start
 * but the first) costs no write transaction; a missing one is recorded in
 * a write transaction that looks again, in case another process was
 * quicker.
 */

int
ngx_apim_secret_check(ngx_apim_store_t *st, const ngx_apim_hmac_t *h,
    char *err, size_t errlen)
{
    int                      rc;
    char                     fp[NGX_APIM_FP_LEN + 1];
    ngx_apim_val_t           val;
    ngx_apim_secret_check_t  ctx;

    ngx_apim_secret_fingerprint(h, fp);

    ctx.fp = fp;
    ctx.mismatch = 0;

    rc = ngx_apim_store_read_begin(st);
    if (rc != NGX_APIM_STORE_OK) {
        snprintf(err, errlen, "%s", st->err);
        return rc;
    }

    rc = ngx_apim_store_get(st, NGX_APIM_DB_META, NGX_APIM_FP_META,
                            sizeof(NGX_APIM_FP_META) - 1, &val);

    if (rc == NGX_APIM_STORE_OK) {
        ctx.mismatch = (val.len != NGX_APIM_FP_LEN
                        || memcmp(val.data, fp, NGX_APIM_FP_LEN) != 0);
    }

    ngx_apim_store_read_end(st);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        if (st->readonly) {
            return NGX_APIM_STORE_OK;
        }

        rc = ngx_apim_store_write(st, ngx_apim_secret_check_handler, &ctx);

    } else if (rc != NGX_APIM_STORE_OK) {
        snprintf(err, errlen, "%s", st->err);
        return rc;
    }

    if (ctx.mismatch) {
        snprintf(err, errlen, "the secret does not match the one the "
                 "store's keys were hashed with");
        return NGX_APIM_STORE_ERROR;
    }

    if (rc != NGX_APIM_STORE_OK) {
        snprintf(err, errlen, "%s", st->err);
        return rc;
    }

    return NGX_APIM_STORE_OK;
}


static int
ngx_apim_secret_check_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_apim_secret_check_t  *ctx = data;

    int             rc;
    ngx_apim_val_t  val;

    ctx->mismatch = 0;

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_META, NGX_APIM_FP_META,
                                sizeof(NGX_APIM_FP_META) - 1, &val);

    if (rc == NGX_APIM_STORE_OK) {
        if (val.len != NGX_APIM_FP_LEN
            || memcmp(val.data, ctx->fp, NGX_APIM_FP_LEN) != 0)
        {
            ctx->mismatch = 1;
            return NGX_APIM_STORE_ERROR;
        }

        return NGX_APIM_STORE_OK;
    }

    if (rc != NGX_APIM_STORE_NOT_FOUND) {
        return rc;
    }

    return ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_META, NGX_APIM_FP_META,
                                  sizeof(NGX_APIM_FP_META) - 1, ctx->fp,
                                  NGX_APIM_FP_LEN, 0);
}


int
ngx_apim_name_valid(const char *name, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0 || len > NGX_APIM_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = name[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
        {
            continue;
        }

        return 0;
    }

    return 1;
}
