
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The store operations the admin API and apimctl share: a consumer
 * deleted with every key of it, a key added, revoked or rotated, a key's
 * usage reset, each in one write transaction.  A handler may run more
 * than once (the map grows and the transaction starts again), so each
 * one sets its results anew.
 */


#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_apim_ops.h"
#include "ngx_apim_usage.h"


typedef struct {
    const char                *name;
    size_t                     len;
    size_t                     revoked;
} ngx_apim_ops_consumer_t;


typedef struct {
    const char                *id;
    size_t                     len;
} ngx_apim_ops_id_t;


static int ngx_apim_ops_consumer_delete_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data);
static int ngx_apim_ops_key_add_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int ngx_apim_ops_key_revoke_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data);
static int ngx_apim_ops_key_rotate_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data);
static int ngx_apim_ops_usage_reset_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data);
static int ngx_apim_ops_usage_get(ngx_apim_store_t *st, MDB_txn *txn,
    const char *id, size_t len, uint32_t gen, ngx_apim_usage_rec_t *usage);


/*
 * The consumer and every key of it, in one transaction: no key is left
 * whose consumer is gone.  Usage counts stay (they are kept by key id).
 */

int
ngx_apim_ops_consumer_delete(ngx_apim_store_t *st, const char *name,
    size_t len, size_t *revoked)
{
    int                      rc;
    ngx_apim_ops_consumer_t  op;

    op.name = name;
    op.len = len;
    op.revoked = 0;

    rc = ngx_apim_store_write(st, ngx_apim_ops_consumer_delete_handler, &op);

    if (revoked) {
        *revoked = op.revoked;
    }

    return rc;
}


static int
ngx_apim_ops_consumer_delete_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_apim_ops_consumer_t  *op = data;

    int                  rc;
    MDB_val              k, v;
    MDB_cursor          *cur;
    ngx_apim_key_rec_t   rec;

    op->revoked = 0;

    rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_CONSUMERS, op->name,
                                   op->len);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    rc = mdb_cursor_open(txn, st->dbi[NGX_APIM_DB_KEYS], &cur);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_open() failed");
    }

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (ngx_apim_key_rec_decode(&rec, v.mv_data, v.mv_size) != 0
            || rec.consumer.len != op->len
            || memcmp(rec.consumer.data, op->name, op->len) != 0)
        {
            continue;
        }

        /* the id first: the record it points into goes next */

        rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_KEY_IDS,
                                       rec.id.data, rec.id.len);
        if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
            mdb_cursor_close(cur);
            return rc;
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != MDB_SUCCESS) {
            mdb_cursor_close(cur);
            /* MDB_MAP_FULL: the map grows and this runs again */
            return ngx_apim_store_fail(st, rc, "mdb_cursor_del() failed");
        }

        op->revoked++;
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_get() failed");
    }

    return NGX_APIM_STORE_OK;
}


/*
 * keys[HMAC] = record and key_ids[id] = HMAC in one transaction, and
 * only for a consumer that exists in it
 */

int
ngx_apim_ops_key_add(ngx_apim_store_t *st, ngx_apim_ops_key_add_t *op)
{
    return ngx_apim_store_write(st, ngx_apim_ops_key_add_handler, op);
}


static int
ngx_apim_ops_key_add_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    ngx_apim_ops_key_add_t  *op = data;

    int                 rc;
    ngx_apim_val_t      val;
    ngx_apim_key_rec_t  rec;

    op->no_consumer = 0;
    op->key_exists = 0;
    op->id_exists = 0;
    op->other[0] = '\0';

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_CONSUMERS, op->consumer,
                                op->consumer_len, &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        op->no_consumer = 1;
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEYS, op->hash,
                                NGX_APIM_HASH_LEN, op->rec, op->rec_len,
                                MDB_NOOVERWRITE);

    if (rc == NGX_APIM_STORE_EXISTS) {
        /* the id the key has already, for the answer */

        op->key_exists = 1;

        if (ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEYS, op->hash,
                                   NGX_APIM_HASH_LEN, &val)
            == NGX_APIM_STORE_OK
            && ngx_apim_key_rec_decode(&rec, val.data, val.len) == 0
            && rec.id.len <= NGX_APIM_ID_LEN)
        {
            memcpy(op->other, rec.id.data, rec.id.len);
            op->other[rec.id.len] = '\0';
        }

        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEY_IDS, op->id,
                                op->id_len, op->hash, NGX_APIM_HASH_LEN,
                                MDB_NOOVERWRITE);

    if (rc == NGX_APIM_STORE_EXISTS) {
        op->id_exists = 1;
    }

    return rc;
}


/* keys[HMAC] and key_ids[id] in one transaction; counters stay */

int
ngx_apim_ops_key_revoke(ngx_apim_store_t *st, const char *id, size_t len)
{
    ngx_apim_ops_id_t  op;

    op.id = id;
    op.len = len;

    return ngx_apim_store_write(st, ngx_apim_ops_key_revoke_handler, &op);
}


static int
ngx_apim_ops_key_revoke_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_apim_ops_id_t  *op = data;

    int             rc;
    ngx_apim_val_t  val;
    unsigned char   hash[NGX_APIM_HASH_LEN];

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEY_IDS, op->id,
                                op->len, &val);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (val.len == NGX_APIM_HASH_LEN) {
        /* copied: the deletion may move the page it is in */
        memcpy(hash, val.data, NGX_APIM_HASH_LEN);

        rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_KEYS, hash,
                                       NGX_APIM_HASH_LEN);

        if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
            return rc;
        }
    }

    return ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_KEY_IDS, op->id,
                                     op->len);
}


/*
 * A new key with the old one's consumer, plan, APIs, times, metadata and
 * usage as the store has it (so that a rotation is no way to a new
 * quota), and the old one expiring "grace" seconds from now (never later
 * than it would have), in one transaction.  An expired key is not
 * rotated: its new key would be expired too.
 */

int
ngx_apim_ops_key_rotate(ngx_apim_store_t *st, ngx_apim_ops_key_rotate_t *op)
{
    int  rc;

    op->new_rec = NULL;

    rc = ngx_apim_store_write(st, ngx_apim_ops_key_rotate_handler, op);

    if (rc != NGX_APIM_STORE_OK) {
        free(op->new_rec);
        op->new_rec = NULL;
    }

    return rc;
}


static int
ngx_apim_ops_key_rotate_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_apim_ops_key_rotate_t  *op = data;

    int                    rc, has_usage;
    int64_t                until;
    ngx_apim_key_rec_t     rec;
    ngx_apim_usage_rec_t   usage;
    unsigned char          hash[NGX_APIM_HASH_LEN];

    free(op->new_rec);
    op->new_rec = NULL;
    op->id_exists = 0;
    op->expired = 0;

    rc = ngx_apim_ops_key_get(st, txn, op->id, op->id_len, hash, &rec);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (rec.expires_at && rec.expires_at <= op->now) {
        /* the new key would take its expiry, and be dead at once */
        op->expired = 1;
        op->old_expires = rec.expires_at;
        return NGX_APIM_STORE_EXISTS;
    }

    /* its usage as the store has it: a rotation is no way to a new quota */

    rc = ngx_apim_ops_usage_get(st, txn, op->id, op->id_len, rec.usage_gen,
                                &usage);

    if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
        return rc;
    }

    has_usage = (rc == NGX_APIM_STORE_OK);

    until = op->now + op->grace;
    op->old_expires = (rec.expires_at && rec.expires_at < until)
                      ? rec.expires_at : until;

    /* the new key: the old one's record, with its own id and time */

    rec.id.data = op->new_id;
    rec.id.len = op->new_id_len;
    rec.created = op->now;

    rc = ngx_apim_ops_key_put(st, txn, op->new_hash, &rec, MDB_NOOVERWRITE,
                              &op->new_rec, &op->new_rec_len);

    if (rc == NGX_APIM_STORE_OK) {
        rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEY_IDS, op->new_id,
                                    op->new_id_len, op->new_hash,
                                    NGX_APIM_HASH_LEN, MDB_NOOVERWRITE);
    }

    if (rc == NGX_APIM_STORE_EXISTS) {
        /* a random id (or key) taken: another one */
        op->id_exists = 1;
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (has_usage) {
        rc = ngx_apim_usage_restore(st, txn, op->new_id, op->new_id_len,
                                    &usage);
        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }
    }

    /*
     * the old key, expiring at the end of the grace, read again: the puts
     * may have moved its page
     */

    rc = ngx_apim_ops_key_get(st, txn, op->id, op->id_len, hash, &rec);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    rec.expires_at = op->old_expires;

    return ngx_apim_ops_key_put(st, txn, hash, &rec, 0, NULL, NULL);
}


/* the key must exist: a usage record of no key is not made */

int
ngx_apim_ops_usage_reset(ngx_apim_store_t *st, const char *id, size_t len)
{
    ngx_apim_ops_id_t  op;

    op.id = id;
    op.len = len;

    return ngx_apim_store_write(st, ngx_apim_ops_usage_reset_handler, &op);
}


static int
ngx_apim_ops_usage_reset_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_apim_ops_id_t  *op = data;

    return ngx_apim_usage_reset(st, txn, op->id, op->len);
}


/*
 * A key's record by its id in a write transaction, with the HMAC it is
 * stored under: NGX_APIM_STORE_NOT_FOUND, or an error for a damaged one.
 */

int
ngx_apim_ops_key_get(ngx_apim_store_t *st, MDB_txn *txn, const char *id,
    size_t len, unsigned char hash[NGX_APIM_HASH_LEN],
    ngx_apim_key_rec_t *rec)
{
    int             rc;
    ngx_apim_val_t  val;

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEY_IDS, id, len, &val);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (val.len == NGX_APIM_HASH_LEN) {
        memcpy(hash, val.data, NGX_APIM_HASH_LEN);

        rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEYS, hash,
                                    NGX_APIM_HASH_LEN, &val);

        if (rc == NGX_APIM_STORE_OK
            && ngx_apim_key_rec_decode(rec, val.data, val.len) == 0)
        {
            return NGX_APIM_STORE_OK;
        }

        if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
            return rc;
        }
    }

    return ngx_apim_store_fail(st, MDB_CORRUPTED, "the record of key "
                               "\"%.*s\" is damaged", (int) len, id);
}


/*
 * NGX_APIM_STORE_NOT_FOUND when the key has no usage record, or one of
 * another generation than the key's (a flush that raced with a reset)
 */

static int
ngx_apim_ops_usage_get(ngx_apim_store_t *st, MDB_txn *txn, const char *id,
    size_t len, uint32_t gen, ngx_apim_usage_rec_t *usage)
{
    int             rc;
    size_t          plen;
    ngx_apim_val_t  val;
    char            name[sizeof(NGX_APIM_USAGE_PREFIX) + NGX_APIM_KEY_MAX];

    plen = sizeof(NGX_APIM_USAGE_PREFIX) - 1;

    if (len > NGX_APIM_KEY_MAX) {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    memcpy(name, NGX_APIM_USAGE_PREFIX, plen);
    memcpy(name + plen, id, len);

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_COUNTERS, name,
                                plen + len, &val);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (ngx_apim_usage_rec_decode(usage, val.data, val.len) != 0) {
        return ngx_apim_store_fail(st, MDB_CORRUPTED, "the usage record of "
                                   "key \"%.*s\" is damaged", (int) len, id);
    }

    return (usage->gen == gen) ? NGX_APIM_STORE_OK : NGX_APIM_STORE_NOT_FOUND;
}


/*
 * A key record encoded and put; the record points into the map, so it
 * is encoded before the map changes.  With "out", the encoded record is
 * kept for the caller (malloc()ed), else freed.
 */

int
ngx_apim_ops_key_put(ngx_apim_store_t *st, MDB_txn *txn,
    const unsigned char *hash, ngx_apim_key_rec_t *rec, unsigned flags,
    unsigned char **out, size_t *out_len)
{
    int             rc;
    size_t          size;
    unsigned char  *buf;

    size = ngx_apim_key_rec_size(rec);

    buf = malloc(size);
    if (buf == NULL) {
        return ngx_apim_store_fail(st, ENOMEM, "out of memory");
    }

    ngx_apim_key_rec_encode(rec, buf);

    rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEYS, hash,
                                NGX_APIM_HASH_LEN, buf, size, flags);

    if (out) {
        *out = buf;
        *out_len = size;

    } else {
        free(buf);
    }

    return rc;
}
