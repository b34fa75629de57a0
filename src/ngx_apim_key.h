
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * API keys: making them, checking their form, and hashing them with the
 * server secret (HMAC-SHA-256), so that the store never holds a usable
 * key.  Depends on libcrypto and libc only; apimctl links it too.
 *
 * A generated key is "ak_" + 11 characters of id + "_" + 43 characters of
 * base64url (256 random bits); its public id, the only part ever logged,
 * is its first 14 characters ("ak_" + 11).  An imported key keeps its
 * text and gets a random id "ik_" + 11 characters.
 */


#ifndef _NGX_APIM_KEY_H_INCLUDED_
#define _NGX_APIM_KEY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED 1
#endif
#include <openssl/sha.h>

#include "ngx_apim_store.h"


#define NGX_APIM_HASH_LEN        32
#define NGX_APIM_ID_LEN          14      /* "ak_" + 11 */
#define NGX_APIM_KEY_LEN         58      /* id + "_" + 43 */
#define NGX_APIM_KEY_MIN         8       /* imported keys: 8 to 512 bytes */
#define NGX_APIM_KEY_MAX         512
#define NGX_APIM_SECRET_MIN      16
#define NGX_APIM_SECRET_MAX      1024
#define NGX_APIM_SECRET_FILE     "secret"   /* in the store directory */
#define NGX_APIM_FP_LEN          16         /* hex chars of a fingerprint */


typedef struct {
    SHA256_CTX   inner;      /* after the ipad block */
    SHA256_CTX   outer;      /* after the opad block */
} ngx_apim_hmac_t;


/*
 * keys; an id is a prefix of 1 to 3 characters ("ak_", "ik_", "c_") and
 * 11 base62 characters, so it may be shorter than NGX_APIM_ID_LEN
 */
int ngx_apim_key_generate(char key[NGX_APIM_KEY_LEN + 1],
    char id[NGX_APIM_ID_LEN + 1]);
int ngx_apim_id_generate(const char *prefix, char id[NGX_APIM_ID_LEN + 1]);
int ngx_apim_key_valid(const unsigned char *key, size_t len);

/* hashing: init once per secret, then one call per key */
void ngx_apim_hmac_init(ngx_apim_hmac_t *h, const unsigned char *secret,
    size_t len);
void ngx_apim_hmac(const ngx_apim_hmac_t *h, const unsigned char *data,
    size_t len, unsigned char out[NGX_APIM_HASH_LEN]);
void ngx_apim_secret_fingerprint(const ngx_apim_hmac_t *h,
    char fp[NGX_APIM_FP_LEN + 1]);

/*
 * the secret file: read it (*len is the buffer's size on entry, the
 * secret's length on return), or create a random one (mode 0600)
 */
int ngx_apim_secret_read(const char *path, unsigned char *buf, size_t *len,
    char *err, size_t errlen);
int ngx_apim_secret_create(const char *path, char *err, size_t errlen);

/*
 * the store remembers the fingerprint of the secret its keys were hashed
 * with ("secret_fp" in meta): records it when absent, and refuses a
 * different secret (NGX_APIM_STORE_ERROR, with the reason in err); it
 * uses the store's read transaction, so call it with none open
 */
int ngx_apim_secret_check(ngx_apim_store_t *st, const ngx_apim_hmac_t *h,
    char *err, size_t errlen);

/* names of consumers, plans and APIs: [A-Za-z0-9._-], 1 to 64 bytes */
int ngx_apim_name_valid(const char *name, size_t len);


#endif /* _NGX_APIM_KEY_H_INCLUDED_ */
