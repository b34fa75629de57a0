
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The store's mesh edges of a service, read on the request path in the
 * request's read transaction: the key layout ("e:" + service + "\0" + id)
 * makes them one cursor range, so a service without edges costs one seek.
 * The cursor is opened once per process and renewed with each read
 * transaction, which allocates nothing.
 *
 * Most services have no edges at all.  A worker remembers, per service,
 * the id of the store's last write at which it found none: while no write
 * has been committed since (one lock-free read of LMDB's meta page), the
 * service still has none, and the request needs no read transaction.  Any
 * write (an edge added, a count flushed) makes the entry stale, so an edge
 * added is seen on the next request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_mesh_pattern.h"
#include "ngx_mesh_spiffe.h"
#include "ngx_mesh_policy_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_mesh_authz.h"


#define NGX_HTTP_MESH_EDGES_NONE  64        /* entries, a power of 2 */


/*
 * The store had no edge of the service at its write "txnid".  The service
 * is the configuration's string: its address names it for the worker's
 * life, so no name is compared (two locations of one service take two
 * entries).
 */

typedef struct {
    MDB_env                      *env;
    size_t                        txnid;       /* 0: empty */
    u_char                       *service;
    size_t                        len;
} ngx_http_mesh_edges_none_t;


static ngx_int_t ngx_http_mesh_edge_limit(ngx_http_request_t *r,
    ngx_mesh_edge_rec_t *rec, ngx_http_mesh_edges_t *edges);
static ngx_http_mesh_edges_none_t *ngx_http_mesh_edges_none_slot(
    ngx_str_t *service);


static MDB_cursor  *ngx_http_mesh_cursor;
static MDB_env     *ngx_http_mesh_cursor_env;

/* per worker, in static memory: nothing is allocated for it */
static ngx_http_mesh_edges_none_t
    ngx_http_mesh_edges_none[NGX_HTTP_MESH_EDGES_NONE];


/*
 * 1 when the store is known to hold no edge of the service: no write was
 * committed since one was looked for and none was found
 */

ngx_uint_t
ngx_http_mesh_edges_none_known(ngx_apim_store_t *st, ngx_str_t *service)
{
    ngx_http_mesh_edges_none_t  *e;

    if (service->len > NGX_MESH_SERVICE_MAX) {
        return 0;
    }

    e = ngx_http_mesh_edges_none_slot(service);

    return e->service == service->data
           && e->len == service->len
           && e->env == st->env
           && e->txnid
           && e->txnid == ngx_apim_store_last_txnid(st);
}


static ngx_http_mesh_edges_none_t *
ngx_http_mesh_edges_none_slot(ngx_str_t *service)
{
    ngx_uint_t  slot;

    slot = ((uintptr_t) service->data >> 3) & (NGX_HTTP_MESH_EDGES_NONE - 1);

    return &ngx_http_mesh_edges_none[slot];
}


ngx_int_t
ngx_http_mesh_edges_read(ngx_http_request_t *r, ngx_apim_store_t *st,
    ngx_str_t *service, ngx_mesh_str_t *id, ngx_http_mesh_edges_t *edges)
{
    u_char                       prefix[NGX_MESH_EDGE_KEY_MAX];
    int                          rc;
    size_t                       len;
    MDB_val                      k, v;
    ngx_uint_t                   n;
    ngx_mesh_str_t               source;
    ngx_mesh_edge_rec_t          rec;
    ngx_http_mesh_edges_none_t  *e;

    if (service->len > NGX_MESH_SERVICE_MAX) {
        return NGX_OK;
    }

    len = ngx_mesh_edge_prefix(prefix, (char *) service->data, service->len);

    if (ngx_http_mesh_cursor && ngx_http_mesh_cursor_env != st->env) {
        /* the store was opened again: a cursor of the old one is dead */
        mdb_cursor_close(ngx_http_mesh_cursor);
        ngx_http_mesh_cursor = NULL;
    }

    if (ngx_http_mesh_cursor == NULL) {
        rc = mdb_cursor_open(st->rtxn, st->dbi[NGX_APIM_DB_POLICIES],
                             &ngx_http_mesh_cursor);
        if (rc != MDB_SUCCESS) {
            ngx_http_mesh_cursor = NULL;
        }

        ngx_http_mesh_cursor_env = st->env;

    } else {
        rc = mdb_cursor_renew(st->rtxn, ngx_http_mesh_cursor);
    }

    if (rc != MDB_SUCCESS) {
        ngx_apim_store_fail(st, rc, "cannot open a cursor on \"policies\"");
        ngx_http_apim_store_error(r->connection->log, st);
        return NGX_ERROR;
    }

    k.mv_data = prefix;
    k.mv_size = len;

    rc = mdb_cursor_get(ngx_http_mesh_cursor, &k, &v, MDB_SET_RANGE);
    n = 0;

    while (rc == MDB_SUCCESS) {

        if (k.mv_size < len || ngx_memcmp(k.mv_data, prefix, len) != 0) {
            break;
        }

        n++;

        if (ngx_mesh_edge_rec_decode(&rec, v.mv_data, v.mv_size) != 0) {

            /* a rule that cannot be read might be a deny: fail closed */

            ngx_http_apim_store_fail(r->connection->log, "a mesh edge of "
                                     "the store cannot be read");
            return NGX_ERROR;
        }

        if (rec.action == NGX_MESH_EDGE_ALLOW) {
            edges->any_allow = 1;
        }

        source.data = rec.source.data;
        source.len = rec.source.len;

        if (ngx_mesh_spiffe_match(&source, id)
            && ngx_mesh_methods_match(rec.methods.data, rec.methods.len,
                                      (char *) r->method_name.data,
                                      r->method_name.len)
            && ngx_mesh_paths_match(rec.paths.data, rec.paths.len,
                                    (char *) r->uri.data, r->uri.len))
        {
            if (rec.action == NGX_MESH_EDGE_DENY) {
                edges->deny = rec.id;

                /* a deny decides: nothing else matters */
                break;
            }

            if (rec.action == NGX_MESH_EDGE_ALLOW && edges->allow == 0) {
                edges->allow = rec.id;
            }

            if (rec.rate && edges->limit == NULL
                && ngx_http_mesh_edge_limit(r, &rec, edges) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        rc = mdb_cursor_get(ngx_http_mesh_cursor, &k, &v, MDB_NEXT);
    }

    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        ngx_apim_store_fail(st, rc, "mdb_cursor_get() in \"policies\" "
                            "failed");
        ngx_http_apim_store_error(r->connection->log, st);
        return NGX_ERROR;
    }

    if (n == 0) {
        /* at the snapshot read, so that a write since makes it stale */

        e = ngx_http_mesh_edges_none_slot(service);

        e->env = st->env;
        e->txnid = ngx_apim_store_read_txnid(st);
        e->service = service->data;
        e->len = service->len;
    }

    return NGX_OK;
}


/* an edge's rate, for the limiter; the record's map is not kept */

static ngx_int_t
ngx_http_mesh_edge_limit(ngx_http_request_t *r, ngx_mesh_edge_rec_t *rec,
    ngx_http_mesh_edges_t *edges)
{
    ngx_http_mesh_limit_t  *lim;

    lim = ngx_pcalloc(r->pool, sizeof(ngx_http_mesh_limit_t));
    if (lim == NULL) {
        return NGX_ERROR;
    }

    lim->per = (rec->per == NGX_MESH_EDGE_PER_SOURCE)
               ? NGX_HTTP_MESH_PER_SOURCE : NGX_HTTP_MESH_PER_EDGE;
    lim->from_store = 1;

    if (ngx_http_mesh_limit_policy(r->pool, lim, rec->rate, rec->window,
                                   rec->burst)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    edges->limit = lim;

    return NGX_OK;
}
