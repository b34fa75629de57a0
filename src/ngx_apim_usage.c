
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Resetting or restoring a key's counted usage.  nginx keeps counts in
 * shared memory and writes them to the store later, so a count written
 * here from outside would simply be overwritten.  Instead, every change
 * bumps the key record's usage generation: nginx reads the key record on
 * every request, sees a generation its cached count was not made for, and
 * reads the count back from the store; a usage record of another
 * generation (a flush that raced with the change) reads as no usage.
 */


#include <string.h>

#include "ngx_apim_ops.h"
#include "ngx_apim_usage.h"


static int ngx_apim_usage_set(ngx_apim_store_t *st, MDB_txn *txn,
    const char *key_id, size_t len, const ngx_apim_usage_rec_t *usage);


/* in a write transaction: the key's usage starts again from nothing */

int
ngx_apim_usage_reset(ngx_apim_store_t *st, MDB_txn *txn, const char *key_id,
    size_t len)
{
    return ngx_apim_usage_set(st, txn, key_id, len, NULL);
}


/* in a write transaction: the key's usage becomes "usage" (an import) */

int
ngx_apim_usage_restore(ngx_apim_store_t *st, MDB_txn *txn,
    const char *key_id, size_t len, const ngx_apim_usage_rec_t *usage)
{
    return ngx_apim_usage_set(st, txn, key_id, len, usage);
}


static int
ngx_apim_usage_set(ngx_apim_store_t *st, MDB_txn *txn, const char *key_id,
    size_t len, const ngx_apim_usage_rec_t *usage)
{
    int                    rc;
    unsigned char          hash[NGX_APIM_HASH_LEN];
    unsigned char          name[2 + NGX_APIM_KEY_MAX];
    unsigned char          buf[NGX_APIM_USAGE_LEN];
    ngx_apim_key_rec_t     rec;
    ngx_apim_usage_rec_t   u;

    if (len == 0 || len > NGX_APIM_KEY_MAX) {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    rc = ngx_apim_ops_key_get(st, txn, key_id, len, hash, &rec);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    rec.usage_gen++;

    rc = ngx_apim_ops_key_put(st, txn, hash, &rec, 0, NULL, NULL);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    memcpy(name, NGX_APIM_USAGE_PREFIX, sizeof(NGX_APIM_USAGE_PREFIX) - 1);
    memcpy(name + sizeof(NGX_APIM_USAGE_PREFIX) - 1, key_id, len);
    len += sizeof(NGX_APIM_USAGE_PREFIX) - 1;

    if (usage == NULL) {
        rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_COUNTERS, name,
                                       len);
        return (rc == NGX_APIM_STORE_NOT_FOUND) ? NGX_APIM_STORE_OK : rc;
    }

    u = *usage;
    u.gen = rec.usage_gen;

    ngx_apim_usage_rec_encode(&u, buf);

    return ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_COUNTERS, name, len,
                                  buf, NGX_APIM_USAGE_LEN, 0);
}
