
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The shared LMDB store: opening and checking the environment, reads in a
 * reused read transaction, small write transactions that grow the map on
 * demand up to its size limit, and an atomic counter.
 */


#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "ngx_apim_store.h"


#define NGX_APIM_STORE_MIN_MAP   (16 * 1024 * 1024)


static int ngx_apim_store_check_schema(ngx_apim_store_t *st, unsigned flags);
static int ngx_apim_store_grow(ngx_apim_store_t *st);
static int ngx_apim_store_adopt_map(ngx_apim_store_t *st);
static int ngx_apim_store_fit_map(ngx_apim_store_t *st);
static int ngx_apim_store_put_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int ngx_apim_store_delete_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int ngx_apim_store_counter_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);


static const char  *ngx_apim_store_db_names[NGX_APIM_DB_COUNT] = {
    "meta",
    "consumers",
    "keys",
    "key_ids",
    "counters",
    "policies",
    "analytics"
};


typedef struct {
    ngx_apim_db_e      db;
    const void        *key;
    size_t             klen;
    const void        *val;
    size_t             vlen;
    unsigned           flags;
    int64_t            delta;
    int64_t            value;
} ngx_apim_store_op_t;


const char *
ngx_apim_store_db_name(ngx_apim_db_e db)
{
    return ngx_apim_store_db_names[db];
}


int
ngx_apim_store_open(ngx_apim_store_t *st, const char *path, size_t max_size,
    unsigned maxreaders, unsigned flags)
{
    int           rc;
    unsigned      env_flags;
    struct stat   sb;

    memset(st, 0, sizeof(ngx_apim_store_t));

    st->max_size = max_size;
    st->readonly = (flags & NGX_APIM_STORE_RDONLY) ? 1 : 0;

    if (stat(path, &sb) == -1) {
        return ngx_apim_store_fail(st, errno, "stat(\"%s\") failed", path);
    }

    if (!S_ISDIR(sb.st_mode)) {
        return ngx_apim_store_fail(st, ENOTDIR, "\"%s\" is not a directory",
                                   path);
    }

    rc = mdb_env_create(&st->env);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_env_create() failed");
    }

    rc = mdb_env_set_maxdbs(st->env, NGX_APIM_DB_COUNT + 8);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    rc = mdb_env_set_maxreaders(st->env, maxreaders);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    /*
     * MDB_NOTLS: a read transaction belongs to the store, not to a thread;
     * MDB_NOSYNC: durability is the kernel's page cache, so a write costs
     * microseconds; a crash of the machine (not of nginx) may lose the
     * last writes, which the README states.
     */

    env_flags = MDB_NOTLS | MDB_NOSYNC;

    if (st->readonly) {
        env_flags |= MDB_RDONLY;
    }

    rc = mdb_env_open(st->env, path, env_flags, 0600);
    if (rc != MDB_SUCCESS) {
        mdb_env_close(st->env);
        st->env = NULL;

        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
            return ngx_apim_store_fail(st, rc, "\"%s\" holds an LMDB file "
                                       "that is not an apim store", path);
        }

        return ngx_apim_store_fail(st, rc, "mdb_env_open(\"%s\") failed",
                                   path);
    }

    rc = ngx_apim_store_adopt_map(st);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    if (!st->readonly) {
        rc = ngx_apim_store_fit_map(st);
        if (rc != MDB_SUCCESS) {
            goto failed;
        }
    }

    if (ngx_apim_store_check_schema(st, flags) != NGX_APIM_STORE_OK) {
        mdb_env_close(st->env);
        st->env = NULL;
        return NGX_APIM_STORE_ERROR;
    }

    return NGX_APIM_STORE_OK;

failed:

    mdb_env_close(st->env);
    st->env = NULL;

    return ngx_apim_store_fail(st, rc, "cannot open the store \"%s\"", path);
}


void
ngx_apim_store_close(ngx_apim_store_t *st)
{
    if (st->env == NULL) {
        return;
    }

    if (st->rtxn) {
        mdb_txn_abort(st->rtxn);
        st->rtxn = NULL;
    }

    mdb_env_close(st->env);
    st->env = NULL;
}


/*
 * Opens every sub-database, and tells our store from an empty environment
 * (made ours when NGX_APIM_STORE_CREATE is set) and from anything else.
 */

static int
ngx_apim_store_check_schema(ngx_apim_store_t *st, unsigned flags)
{
    int           rc, empty;
    MDB_val       key, val;
    MDB_txn      *txn;
    MDB_dbi       main;
    MDB_stat      ms;
    unsigned      i, dflags;
    const char   *schema;

    schema = NGX_APIM_STORE_SCHEMA;

    rc = mdb_txn_begin(st->env, NULL, st->readonly ? MDB_RDONLY : 0, &txn);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_txn_begin() failed");
    }

    rc = mdb_dbi_open(txn, NULL, 0, &main);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    rc = mdb_stat(txn, main, &ms);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    empty = (ms.ms_entries == 0);

    if (empty && !(flags & NGX_APIM_STORE_CREATE)) {
        mdb_txn_abort(txn);
        return ngx_apim_store_fail(st, MDB_NOTFOUND,
                                   "the store is empty (not initialized)");
    }

    if (!empty) {
        rc = mdb_dbi_open(txn, ngx_apim_store_db_names[NGX_APIM_DB_META], 0,
                          &st->dbi[NGX_APIM_DB_META]);

        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
            mdb_txn_abort(txn);
            return ngx_apim_store_fail(st, rc, "the LMDB environment is not "
                                       "an apim store (no \"meta\" database)");
        }

        if (rc != MDB_SUCCESS) {
            goto failed;
        }

        key.mv_data = "schema";
        key.mv_size = sizeof("schema") - 1;

        rc = mdb_get(txn, st->dbi[NGX_APIM_DB_META], &key, &val);
        if (rc == MDB_NOTFOUND) {
            mdb_txn_abort(txn);
            return ngx_apim_store_fail(st, rc, "the LMDB environment is not "
                                       "an apim store (no schema record)");
        }

        if (rc != MDB_SUCCESS) {
            goto failed;
        }

        if (val.mv_size != strlen(schema)
            || memcmp(val.mv_data, schema, val.mv_size) != 0)
        {
            mdb_txn_abort(txn);
            return ngx_apim_store_fail(st, MDB_INCOMPATIBLE,
                                       "the store has schema \"%.*s\", "
                                       "this module reads \"%s\"",
                                       (int) (val.mv_size < 64
                                              ? val.mv_size : 64),
                                       (char *) val.mv_data, schema);
        }
    }

    dflags = st->readonly ? 0 : MDB_CREATE;

    for (i = 0; i < NGX_APIM_DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, ngx_apim_store_db_names[i], dflags,
                          &st->dbi[i]);

        if (rc == MDB_NOTFOUND && st->readonly) {
            /* a newer sub-database not made yet: reads find nothing */
            st->dbi[i] = st->dbi[NGX_APIM_DB_META];
            continue;
        }

        if (rc != MDB_SUCCESS) {
            goto failed;
        }
    }

    if (empty) {
        key.mv_data = "schema";
        key.mv_size = sizeof("schema") - 1;
        val.mv_data = (void *) schema;
        val.mv_size = strlen(schema);

        rc = mdb_put(txn, st->dbi[NGX_APIM_DB_META], &key, &val, 0);
        if (rc != MDB_SUCCESS) {
            goto failed;
        }
    }

    rc = mdb_txn_commit(txn);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_txn_commit() failed");
    }

    return NGX_APIM_STORE_OK;

failed:

    mdb_txn_abort(txn);

    return ngx_apim_store_fail(st, rc, "cannot read the store's schema");
}


int
ngx_apim_store_read_begin(ngx_apim_store_t *st)
{
    int  rc, tries;

    if (st->reading) {
        return NGX_APIM_STORE_OK;
    }

    for (tries = 0; tries < 2; tries++) {

        if (st->rtxn) {
            rc = mdb_txn_renew(st->rtxn);

        } else {
            rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->rtxn);
            if (rc != MDB_SUCCESS) {
                st->rtxn = NULL;
            }
        }

        if (rc == MDB_SUCCESS) {
            st->reading = 1;
            return NGX_APIM_STORE_OK;
        }

        if (st->rtxn) {
            mdb_txn_abort(st->rtxn);
            st->rtxn = NULL;
        }

        if (rc != MDB_MAP_RESIZED) {
            break;
        }

        /* another process grew the map: adopt its size and try again */

        rc = ngx_apim_store_adopt_map(st);
        if (rc != MDB_SUCCESS) {
            break;
        }
    }

    return ngx_apim_store_fail(st, rc, "cannot begin a read transaction");
}


void
ngx_apim_store_read_end(ngx_apim_store_t *st)
{
    if (st->reading) {
        mdb_txn_reset(st->rtxn);
        st->reading = 0;
    }
}


int
ngx_apim_store_get(ngx_apim_store_t *st, ngx_apim_db_e db, const void *key,
    size_t klen, ngx_apim_val_t *val)
{
    return ngx_apim_store_txn_get(st, st->rtxn, db, key, klen, val);
}


int
ngx_apim_store_txn_get(ngx_apim_store_t *st, MDB_txn *txn, ngx_apim_db_e db,
    const void *key, size_t klen, ngx_apim_val_t *val)
{
    int      rc;
    MDB_val  k, v;

    k.mv_data = (void *) key;
    k.mv_size = klen;

    rc = mdb_get(txn, st->dbi[db], &k, &v);

    if (rc == MDB_NOTFOUND) {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_get() in \"%s\" failed",
                                   ngx_apim_store_db_names[db]);
    }

    val->data = v.mv_data;
    val->len = v.mv_size;

    return NGX_APIM_STORE_OK;
}


/*
 * Calls the handler for every record from the key "from" (or the first)
 * on, in key order, inside the caller's read transaction.
 */

int
ngx_apim_store_iterate(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *from, size_t flen, ngx_apim_store_iter_pt handler,
    void *data)
{
    return ngx_apim_store_txn_iterate(st, st->rtxn, db, from, flen, handler,
                                      data);
}


/* the same, inside a write transaction: the handler sees its changes */

int
ngx_apim_store_txn_iterate(ngx_apim_store_t *st, MDB_txn *txn,
    ngx_apim_db_e db, const void *from, size_t flen,
    ngx_apim_store_iter_pt handler, void *data)
{
    int              rc, hrc;
    MDB_val          k, v;
    MDB_cursor      *cur;
    ngx_apim_val_t   key, val;

    rc = mdb_cursor_open(txn, st->dbi[db], &cur);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_open() failed");
    }

    if (from && flen) {
        k.mv_data = (void *) from;
        k.mv_size = flen;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);

    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }

    hrc = NGX_APIM_STORE_OK;

    while (rc == MDB_SUCCESS) {
        key.data = k.mv_data;
        key.len = k.mv_size;
        val.data = v.mv_data;
        val.len = v.mv_size;

        hrc = handler(&key, &val, data);
        if (hrc != NGX_APIM_STORE_OK) {
            break;
        }

        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }

    mdb_cursor_close(cur);

    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_get() failed");
    }

    return (hrc == NGX_APIM_STORE_ERROR) ? hrc : NGX_APIM_STORE_OK;
}


/*
 * Runs the handler in one write transaction.  When the map is full, the
 * transaction is dropped, the map grows (doubling, up to max_size) and the
 * handler runs again; at max_size the answer is NGX_APIM_STORE_FULL.
 */

int
ngx_apim_store_write(ngx_apim_store_t *st, ngx_apim_store_write_pt handler,
    void *data)
{
    int       rc, hrc;
    MDB_txn  *txn;

    if (st->readonly) {
        return ngx_apim_store_fail(st, EACCES, "the store is read-only");
    }

    for ( ;; ) {
        st->mdb_rc = 0;

        rc = mdb_txn_begin(st->env, NULL, 0, &txn);

        if (rc == MDB_MAP_RESIZED) {
            rc = ngx_apim_store_adopt_map(st);
            if (rc != MDB_SUCCESS) {
                return ngx_apim_store_fail(st, rc, "mdb_env_set_mapsize() "
                                           "failed");
            }

            continue;
        }

        if (rc != MDB_SUCCESS) {
            return ngx_apim_store_fail(st, rc, "cannot begin a write "
                                       "transaction");
        }

        hrc = handler(st, txn, data);

        if (hrc != NGX_APIM_STORE_OK) {
            mdb_txn_abort(txn);

            if (st->mdb_rc != MDB_MAP_FULL) {
                return hrc;
            }

        } else {
            rc = mdb_txn_commit(txn);

            if (rc == MDB_SUCCESS) {
                return NGX_APIM_STORE_OK;
            }

            if (rc != MDB_MAP_FULL) {
                return ngx_apim_store_fail(st, rc, "mdb_txn_commit() failed");
            }
        }

        /* MDB_MAP_FULL */

        rc = ngx_apim_store_grow(st);
        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }
    }
}


static int
ngx_apim_store_grow(ngx_apim_store_t *st)
{
    int     rc;
    size_t  size;

    if (st->map_size >= st->max_size) {
        ngx_apim_store_fail(st, MDB_MAP_FULL, "the store is full "
                            "(size=%zu bytes)", st->max_size);
        return NGX_APIM_STORE_FULL;
    }

    size = st->map_size * 2;

    if (size > st->max_size) {
        size = st->max_size;
    }

    /* no transaction of ours may be live while the map moves */

    if (st->rtxn) {
        mdb_txn_abort(st->rtxn);
        st->rtxn = NULL;
        st->reading = 0;
    }

    rc = mdb_env_set_mapsize(st->env, size);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_env_set_mapsize(%zu) failed",
                                   size);
    }

    st->map_size = size;

    return NGX_APIM_STORE_OK;
}


/*
 * Takes the map size another process has set (LMDB keeps the largest any
 * process asked for), then holds it to this process's own limit: LMDB
 * rounds a smaller size up to the data in use, so reads always work and
 * this process writes no further than max_size.
 */

static int
ngx_apim_store_adopt_map(ngx_apim_store_t *st)
{
    int          rc;
    MDB_envinfo  info;

    if (st->rtxn && !st->reading) {
        mdb_txn_abort(st->rtxn);
        st->rtxn = NULL;
    }

    if (!st->reading) {
        rc = mdb_env_set_mapsize(st->env, 0);
        if (rc != MDB_SUCCESS) {
            return rc;
        }

        rc = mdb_env_info(st->env, &info);
        if (rc != MDB_SUCCESS) {
            return rc;
        }

        if (st->max_size && info.me_mapsize > st->max_size) {
            rc = mdb_env_set_mapsize(st->env, st->max_size);
            if (rc != MDB_SUCCESS) {
                return rc;
            }
        }
    }

    rc = mdb_env_info(st->env, &info);
    if (rc != MDB_SUCCESS) {
        return rc;
    }

    st->map_size = info.me_mapsize;

    return MDB_SUCCESS;
}


/* a new map starts at 16 megabytes, or at max_size if that is less */

static int
ngx_apim_store_fit_map(ngx_apim_store_t *st)
{
    size_t  size;

    size = NGX_APIM_STORE_MIN_MAP;

    if (size > st->max_size) {
        size = st->max_size;
    }

    if (st->map_size >= size) {
        return MDB_SUCCESS;
    }

    st->map_size = size;

    return mdb_env_set_mapsize(st->env, size);
}


int
ngx_apim_store_txn_put(ngx_apim_store_t *st, MDB_txn *txn, ngx_apim_db_e db,
    const void *key, size_t klen, const void *val, size_t vlen,
    unsigned flags)
{
    int      rc;
    MDB_val  k, v;

    k.mv_data = (void *) key;
    k.mv_size = klen;
    v.mv_data = (void *) val;
    v.mv_size = vlen;

    rc = mdb_put(txn, st->dbi[db], &k, &v, flags);

    if (rc == MDB_KEYEXIST) {
        return NGX_APIM_STORE_EXISTS;
    }

    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_put() in \"%s\" failed",
                                   ngx_apim_store_db_names[db]);
    }

    return NGX_APIM_STORE_OK;
}


int
ngx_apim_store_txn_delete(ngx_apim_store_t *st, MDB_txn *txn,
    ngx_apim_db_e db, const void *key, size_t klen)
{
    int      rc;
    MDB_val  k;

    k.mv_data = (void *) key;
    k.mv_size = klen;

    rc = mdb_del(txn, st->dbi[db], &k, NULL);

    if (rc == MDB_NOTFOUND) {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_del() in \"%s\" failed",
                                   ngx_apim_store_db_names[db]);
    }

    return NGX_APIM_STORE_OK;
}


int
ngx_apim_store_put(ngx_apim_store_t *st, ngx_apim_db_e db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
    ngx_apim_store_op_t  op;

    op.db = db;
    op.key = key;
    op.klen = klen;
    op.val = val;
    op.vlen = vlen;
    op.flags = 0;

    return ngx_apim_store_write(st, ngx_apim_store_put_handler, &op);
}


/* like put, but an existing key is left alone: NGX_APIM_STORE_EXISTS */

int
ngx_apim_store_insert(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *key, size_t klen, const void *val, size_t vlen)
{
    ngx_apim_store_op_t  op;

    op.db = db;
    op.key = key;
    op.klen = klen;
    op.val = val;
    op.vlen = vlen;
    op.flags = MDB_NOOVERWRITE;

    return ngx_apim_store_write(st, ngx_apim_store_put_handler, &op);
}


static int
ngx_apim_store_put_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    ngx_apim_store_op_t  *op = data;

    return ngx_apim_store_txn_put(st, txn, op->db, op->key, op->klen,
                                  op->val, op->vlen, op->flags);
}


int
ngx_apim_store_delete(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *key, size_t klen)
{
    ngx_apim_store_op_t  op;

    op.db = db;
    op.key = key;
    op.klen = klen;

    return ngx_apim_store_write(st, ngx_apim_store_delete_handler, &op);
}


static int
ngx_apim_store_delete_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_apim_store_op_t  *op = data;

    return ngx_apim_store_txn_delete(st, txn, op->db, op->key, op->klen);
}


/*
 * Adds delta to a signed 64-bit counter (stored little-endian in 8 bytes)
 * and returns the new value; the writer lock makes it atomic across
 * processes.
 */

int
ngx_apim_store_counter_add(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *key, size_t klen, int64_t delta, int64_t *value)
{
    int                  rc;
    ngx_apim_store_op_t  op;

    op.db = db;
    op.key = key;
    op.klen = klen;
    op.delta = delta;
    op.value = 0;

    rc = ngx_apim_store_write(st, ngx_apim_store_counter_handler, &op);

    if (rc == NGX_APIM_STORE_OK && value) {
        *value = op.value;
    }

    return rc;
}


static int
ngx_apim_store_counter_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_apim_store_op_t  *op = data;

    int              rc, i;
    int64_t          n;
    uint64_t         u;
    unsigned char    buf[8];
    const u_char    *p;
    ngx_apim_val_t   val;

    rc = ngx_apim_store_txn_get(st, txn, op->db, op->key, op->klen, &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        n = 0;

    } else if (rc != NGX_APIM_STORE_OK) {
        return rc;

    } else if (val.len != 8) {
        return ngx_apim_store_fail(st, MDB_BAD_VALSIZE, "a counter in \"%s\" "
                                   "is not 8 bytes long",
                                   ngx_apim_store_db_names[op->db]);

    } else {
        p = val.data;
        u = 0;

        for (i = 7; i >= 0; i--) {
            u = (u << 8) | p[i];
        }

        n = (int64_t) u;
    }

    n += op->delta;
    u = (uint64_t) n;

    for (i = 0; i < 8; i++) {
        buf[i] = (unsigned char) (u >> (8 * i));
    }

    rc = ngx_apim_store_txn_put(st, txn, op->db, op->key, op->klen, buf, 8, 0);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    op->value = n;

    return NGX_APIM_STORE_OK;
}


/* clears reader slots left by processes that died mid-read */

int
ngx_apim_store_check_readers(ngx_apim_store_t *st, int *dead)
{
    int  rc;

    rc = mdb_reader_check(st->env, dead);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_reader_check() failed");
    }

    return NGX_APIM_STORE_OK;
}


int
ngx_apim_store_stat(ngx_apim_store_t *st, ngx_apim_db_e db, size_t *entries)
{
    int       rc;
    MDB_stat  ms;

    rc = mdb_stat(st->rtxn, st->dbi[db], &ms);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_stat() failed");
    }

    *entries = ms.ms_entries;

    return NGX_APIM_STORE_OK;
}


/* the bytes in use: pages up to the last one written */

size_t
ngx_apim_store_used(ngx_apim_store_t *st)
{
    MDB_stat     ms;
    MDB_envinfo  info;

    if (mdb_env_info(st->env, &info) != MDB_SUCCESS
        || mdb_env_stat(st->env, &ms) != MDB_SUCCESS)
    {
        return 0;
    }

    return (info.me_last_pgno + 1) * (size_t) ms.ms_psize;
}


/* the id of the snapshot the read transaction sees; 0 when not reading */

size_t
ngx_apim_store_read_txnid(ngx_apim_store_t *st)
{
    return st->reading ? mdb_txn_id(st->rtxn) : 0;
}


/*
 * Records an LMDB error for the caller's log; MDB_MAP_FULL makes
 * ngx_apim_store_write() grow the map and run its handler again.
 */

int
ngx_apim_store_fail(ngx_apim_store_t *st, int rc, const char *fmt, ...)
{
    int      n;
    va_list  args;

    st->mdb_rc = rc;

    va_start(args, fmt);
    n = vsnprintf(st->err, NGX_APIM_STORE_ERRLEN, fmt, args);
    va_end(args);

    if (n >= 0 && n < NGX_APIM_STORE_ERRLEN) {
        snprintf(st->err + n, NGX_APIM_STORE_ERRLEN - n, " (%d: %s)", rc,
                 mdb_strerror(rc));
    }

    return (rc == MDB_MAP_FULL) ? NGX_APIM_STORE_FULL : NGX_APIM_STORE_ERROR;
}
