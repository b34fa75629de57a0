
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The shared store: one LMDB environment in a directory, holding named
 * sub-databases for both modules and for apimctl.  This file depends on
 * LMDB and libc only, so that tools link the very same code.
 *
 * Return codes have the values of nginx's NGX_OK, NGX_ERROR, NGX_BUSY and
 * NGX_DECLINED, so that module code compares them with either name.
 */


#ifndef _NGX_APIM_STORE_H_INCLUDED_
#define _NGX_APIM_STORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>


#define NGX_APIM_STORE_OK          0     /* NGX_OK */
#define NGX_APIM_STORE_ERROR      -1     /* NGX_ERROR */
#define NGX_APIM_STORE_FULL       -3     /* NGX_BUSY: map at its size limit */
#define NGX_APIM_STORE_EXISTS     -4     /* NGX_DONE: insert found the key */
#define NGX_APIM_STORE_NOT_FOUND  -5     /* NGX_DECLINED */

#define NGX_APIM_VERSION          "0.1.0"
#define NGX_APIM_STORE_SCHEMA     "nginx-apim-store/1"

#define NGX_APIM_STORE_ERRLEN     256


/* the sub-databases; new ones are appended, never renumbered */
typedef enum {
    NGX_APIM_DB_META = 0,
    NGX_APIM_DB_CONSUMERS,
    NGX_APIM_DB_KEYS,
    NGX_APIM_DB_KEY_IDS,
    NGX_APIM_DB_COUNTERS,
    NGX_APIM_DB_POLICIES,
    NGX_APIM_DB_ANALYTICS,
    NGX_APIM_DB_COUNT
} ngx_apim_db_e;


typedef struct {
    MDB_env           *env;
    MDB_txn           *rtxn;          /* reused with reset/renew */
    MDB_dbi            dbi[NGX_APIM_DB_COUNT];
    size_t             map_size;      /* the current map size */
    size_t             max_size;      /* the map never grows past this */
    unsigned           reading:1;     /* rtxn is live */
    unsigned           readonly:1;
    int                mdb_rc;        /* the last LMDB error, for logs */
    char               err[NGX_APIM_STORE_ERRLEN];
} ngx_apim_store_t;


typedef struct {
    size_t             len;
    const void        *data;
} ngx_apim_val_t;


/* a write callback; it may run more than once if the map must grow */
typedef int (*ngx_apim_store_write_pt)(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);

/* an iteration callback: return OK to go on, anything else stops */
typedef int (*ngx_apim_store_iter_pt)(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);


#define NGX_APIM_STORE_CREATE      0x01   /* make an empty store ours */
#define NGX_APIM_STORE_RDONLY      0x02


int ngx_apim_store_open(ngx_apim_store_t *st, const char *path,
    size_t max_size, unsigned maxreaders, unsigned flags);
void ngx_apim_store_close(ngx_apim_store_t *st);

int ngx_apim_store_read_begin(ngx_apim_store_t *st);
void ngx_apim_store_read_end(ngx_apim_store_t *st);
int ngx_apim_store_get(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *key, size_t klen, ngx_apim_val_t *val);
int ngx_apim_store_iterate(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *from, size_t flen, ngx_apim_store_iter_pt handler,
    void *data);

int ngx_apim_store_write(ngx_apim_store_t *st,
    ngx_apim_store_write_pt handler, void *data);
int ngx_apim_store_put(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *key, size_t klen, const void *val, size_t vlen);
int ngx_apim_store_insert(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *key, size_t klen, const void *val, size_t vlen);
int ngx_apim_store_delete(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *key, size_t klen);
int ngx_apim_store_counter_add(ngx_apim_store_t *st, ngx_apim_db_e db,
    const void *key, size_t klen, int64_t delta, int64_t *value);

int ngx_apim_store_txn_put(ngx_apim_store_t *st, MDB_txn *txn,
    ngx_apim_db_e db, const void *key, size_t klen, const void *val,
    size_t vlen, unsigned flags);
int ngx_apim_store_txn_get(ngx_apim_store_t *st, MDB_txn *txn,
    ngx_apim_db_e db, const void *key, size_t klen, ngx_apim_val_t *val);
int ngx_apim_store_txn_delete(ngx_apim_store_t *st, MDB_txn *txn,
    ngx_apim_db_e db, const void *key, size_t klen);
int ngx_apim_store_txn_iterate(ngx_apim_store_t *st, MDB_txn *txn,
    ngx_apim_db_e db, const void *from, size_t flen,
    ngx_apim_store_iter_pt handler, void *data);

int ngx_apim_store_check_readers(ngx_apim_store_t *st, int *dead);
int ngx_apim_store_stat(ngx_apim_store_t *st, ngx_apim_db_e db,
    size_t *entries);
size_t ngx_apim_store_used(ngx_apim_store_t *st);
size_t ngx_apim_store_read_txnid(ngx_apim_store_t *st);

const char *ngx_apim_store_db_name(ngx_apim_db_e db);
int ngx_apim_store_fail(ngx_apim_store_t *st, int rc, const char *fmt, ...);


/*
 * The id of the last committed write, read from the meta pages without a
 * transaction or a lock: while it stays the same, nothing in the store
 * changed.  0 when it cannot be read.  Inline: read on every request.
 */

static inline size_t
ngx_apim_store_last_txnid(ngx_apim_store_t *st)
{
    MDB_envinfo  info;

    if (mdb_env_info(st->env, &info) != MDB_SUCCESS) {
        return 0;
    }

    return info.me_last_txnid;
}


#endif /* _NGX_APIM_STORE_H_INCLUDED_ */
