
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The store operations the admin API and apimctl both do, each one write
 * transaction: delete a consumer with its keys, add a key, revoke a key,
 * rotate a key, reset a key's usage.  Plain C (LMDB and libc); apimctl
 * links it too, so that the two write the store the same way.
 *
 * Each returns a store code (NGX_APIM_STORE_*); the operation's structure
 * says why it failed where the caller words the answer differently.
 */


#ifndef _NGX_APIM_OPS_H_INCLUDED_
#define _NGX_APIM_OPS_H_INCLUDED_


#include "ngx_apim_store.h"
#include "ngx_apim_key.h"
#include "ngx_apim_record.h"


/* a new key: keys[hash] = rec, key_ids[id] = hash, for a consumer */

typedef struct {
    const char            *consumer;
    size_t                 consumer_len;
    const char            *id;
    size_t                 id_len;
    const unsigned char   *hash;        /* NGX_APIM_HASH_LEN bytes */
    const unsigned char   *rec;         /* the encoded key record */
    size_t                 rec_len;

    /* why it failed */
    unsigned               no_consumer:1;
    unsigned               key_exists:1;
    unsigned               id_exists:1; /* a random id taken: another */
    char                   other[NGX_APIM_ID_LEN + 1];  /* the key's id */
} ngx_apim_ops_key_add_t;


/* a new key for an old one; the old one expires at min(now + grace, its) */

typedef struct {
    const char            *id;          /* the old key */
    size_t                 id_len;
    const char            *new_id;
    size_t                 new_id_len;
    const unsigned char   *new_hash;    /* NGX_APIM_HASH_LEN bytes */
    int64_t                now;
    int64_t                grace;

    unsigned char         *new_rec;     /* malloc()ed: the caller frees */
    size_t                 new_rec_len;
    int64_t                old_expires; /* after, or when it expired */
    unsigned               expired:1;   /* not rotated: it has expired */
    unsigned               id_exists:1; /* a random id taken: another */
} ngx_apim_ops_key_rotate_t;


int ngx_apim_ops_consumer_delete(ngx_apim_store_t *st, const char *name,
    size_t len, size_t *revoked);
int ngx_apim_ops_key_add(ngx_apim_store_t *st, ngx_apim_ops_key_add_t *op);
int ngx_apim_ops_key_revoke(ngx_apim_store_t *st, const char *id,
    size_t len);
int ngx_apim_ops_key_rotate(ngx_apim_store_t *st,
    ngx_apim_ops_key_rotate_t *op);
int ngx_apim_ops_usage_reset(ngx_apim_store_t *st, const char *id,
    size_t len);

/* in a write transaction: NOT_FOUND, or ERROR for a damaged record */
int ngx_apim_ops_key_get(ngx_apim_store_t *st, MDB_txn *txn,
    const char *id, size_t len, unsigned char hash[NGX_APIM_HASH_LEN],
    ngx_apim_key_rec_t *rec);

/* in a write transaction: the record encoded and put under its HMAC */
int ngx_apim_ops_key_put(ngx_apim_store_t *st, MDB_txn *txn,
    const unsigned char *hash, ngx_apim_key_rec_t *rec, unsigned flags,
    unsigned char **out, size_t *out_len);


#endif /* _NGX_APIM_OPS_H_INCLUDED_ */
