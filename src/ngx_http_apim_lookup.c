
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Finding a key in the store: its record, its consumer and its plan, in
 * one read transaction, with the reasons a key is refused.  The access
 * check, the catalogue and the usage endpoint share it.
 *
 * A worker remembers the keys it let in, by HMAC, with the id of the
 * store's last write they were read at: while no write has been
 * committed since (one lock-free read of LMDB's meta page), the same key
 * gets the same answer without a read transaction.  Any write (a key
 * revoked, a consumer deleted, a count flushed) makes every entry stale,
 * so a change is still seen on the next request.  The table is two-way
 * set-associative: a thousand keys in use fit in it nearly all (direct
 * mapped, a third of them would keep evicting one another).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_key.h"
#include "ngx_apim_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_lookup.h"


#define NGX_HTTP_APIM_LOOKUP_SETS        2048      /* a power of 2 */
#define NGX_HTTP_APIM_LOOKUP_WAYS        2
#define NGX_HTTP_APIM_LOOKUP_CACHE_DATA  192       /* bytes of strings */


typedef struct {
    u_char                    hash[NGX_APIM_HASH_LEN];
    size_t                    txnid;       /* 0: empty */
    ngx_array_t              *plans;       /* the configuration's */
    ngx_http_apim_plan_t     *plan;
    int64_t                   not_before;
    int64_t                   expires_at;
    uint32_t                  usage_gen;
    u_short                   older;       /* in way 0: the way to reuse */
    u_short                   key_id;      /* lengths of the strings */
    u_short                   consumer;
    u_short                   consumer_id;
    u_short                   apis;
    u_char                    data[NGX_HTTP_APIM_LOOKUP_CACHE_DATA];
} ngx_http_apim_lookup_cache_t;


static ngx_int_t ngx_http_apim_lookup_cached(ngx_http_request_t *r,
    ngx_http_apim_lookup_cache_t *e, ngx_http_apim_lookup_t *lk);
static void ngx_http_apim_lookup_remember(ngx_http_apim_lookup_cache_t *e,
    u_char *hash, size_t txnid, ngx_array_t *plans, ngx_apim_key_rec_t *rec,
    ngx_http_apim_lookup_t *lk);
static u_char *ngx_http_apim_lookup_dup(ngx_pool_t *pool, u_char *src,
    size_t len, ngx_str_t *dst);


/* per worker, in static memory: nothing is allocated for it */
static ngx_http_apim_lookup_cache_t
    ngx_http_apim_lookup_cache[NGX_HTTP_APIM_LOOKUP_SETS
                               * NGX_HTTP_APIM_LOOKUP_WAYS];


/*
 * NGX_OK: a good key whose plan nginx.conf defines; NGX_DECLINED: the key
 * is refused, lk->status and lk->detail say why; NGX_ERROR: the store
 * failed (logged).  What is known of a refused key (its id, its consumer)
 * is set all the same, for the log.
 */

ngx_int_t
ngx_http_apim_lookup(ngx_http_request_t *r, ngx_apim_hmac_t *hmac,
    ngx_array_t *plans, ngx_str_t *key, ngx_http_apim_lookup_t *lk)
{
    u_char                         hash[NGX_APIM_HASH_LEN];
    int                            rc;
    size_t                         txnid;
    time_t                         now;
    uint32_t                       slot;
    ngx_str_t                      name;
    ngx_apim_val_t                 val;
    ngx_apim_store_t              *st;
    ngx_apim_key_rec_t             rec;
    ngx_apim_consumer_rec_t        consumer;
    ngx_http_apim_lookup_cache_t  *e, *set;

    ngx_memzero(lk, sizeof(ngx_http_apim_lookup_t));

    if (!ngx_apim_key_valid(key->data, key->len)) {
        lk->status = NGX_HTTP_APIM_BAD_KEY;
        lk->detail = "The API key is not valid.";
        return NGX_DECLINED;
    }

    ngx_apim_hmac(hmac, key->data, key->len, hash);

    st = ngx_http_apim_store();

    if (st == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(&slot, hash, sizeof(uint32_t));
    set = &ngx_http_apim_lookup_cache[(slot & (NGX_HTTP_APIM_LOOKUP_SETS - 1))
                                      * NGX_HTTP_APIM_LOOKUP_WAYS];

    for (e = set; e < set + NGX_HTTP_APIM_LOOKUP_WAYS; e++) {

        if (e->txnid == 0
            || ngx_memcmp(e->hash, hash, NGX_APIM_HASH_LEN) != 0)
        {
            continue;
        }

        if (e->txnid != ngx_apim_store_last_txnid(st) || e->plans != plans) {
            break;
        }

        /* the other way is now the one used less recently */
        set->older = (e == set) ? 1 : 0;

        rc = ngx_http_apim_lookup_cached(r, e, lk);

        if (rc != NGX_DECLINED) {
            return rc;
        }

        /* no longer valid by time: the store says why */

        ngx_memzero(lk, sizeof(ngx_http_apim_lookup_t));
        break;
    }

    /* where the answer will be remembered: the key's own way, else the older */

    if (e == set + NGX_HTTP_APIM_LOOKUP_WAYS) {
        e = set + set->older;
    }

    set->older = (e == set) ? 1 : 0;

    if (ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        ngx_http_apim_store_error(r->connection->log, st);
        return NGX_ERROR;
    }

    rc = ngx_apim_store_get(st, NGX_APIM_DB_KEYS, hash, NGX_APIM_HASH_LEN,
                            &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        ngx_apim_store_read_end(st);
        lk->status = NGX_HTTP_APIM_BAD_KEY;
        lk->detail = "The API key is not valid.";
        return NGX_DECLINED;
    }

    if (rc != NGX_APIM_STORE_OK
        || ngx_apim_key_rec_decode(&rec, val.data, val.len) != 0
        || ngx_http_apim_store_str(r->pool, &lk->key_id, &rec.id) != NGX_OK
        || ngx_http_apim_store_str(r->pool, &lk->consumer, &rec.consumer)
           != NGX_OK
        || ngx_http_apim_store_str(r->pool, &lk->apis, &rec.apis) != NGX_OK)
    {
        goto read_error;
    }

    lk->usage_gen = rec.usage_gen;

    now = ngx_time();

    if (rec.flags & NGX_APIM_KEY_DISABLED) {
        lk->status = NGX_HTTP_APIM_BAD_KEY;
        lk->detail = "The API key is disabled.";

    } else if (rec.not_before && now < rec.not_before) {
        lk->status = NGX_HTTP_APIM_BAD_KEY;
        lk->detail = "The API key is not valid yet.";

    } else if (rec.expires_at && now >= rec.expires_at) {
        lk->status = NGX_HTTP_APIM_EXPIRED;
        lk->detail = "The API key has expired.";
    }

    if (lk->detail) {
        ngx_apim_store_read_end(st);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "apim: key \"%V\" refused: %s", &lk->key_id,
                      lk->detail);
        return NGX_DECLINED;
    }

    rc = ngx_apim_store_get(st, NGX_APIM_DB_CONSUMERS, rec.consumer.data,
                            rec.consumer.len, &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        ngx_apim_store_read_end(st);
        lk->status = NGX_HTTP_APIM_BAD_KEY;
        lk->detail = "The API key's consumer does not exist.";
        return NGX_DECLINED;
    }

    if (rc != NGX_APIM_STORE_OK
        || ngx_apim_consumer_rec_decode(&consumer, val.data, val.len) != 0
        || ngx_http_apim_store_str(r->pool, &lk->consumer_id, &consumer.id)
           != NGX_OK)
    {
        goto read_error;
    }

    /* the key's own plan, else its consumer's */

    name.data = (u_char *) (rec.plan.len ? rec.plan.data : consumer.plan.data);
    name.len = rec.plan.len ? rec.plan.len : consumer.plan.len;

    lk->plan = ngx_http_apim_plan_find(plans, name.data, name.len);

    if (lk->plan == NULL) {
        lk->status = NGX_HTTP_APIM_FORBIDDEN;
        lk->detail = "The API key's plan is not offered here.";
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "apim: key \"%V\" has plan \"%V\", which no "
                      "apim_plan defines", &lk->key_id, &name);
        ngx_apim_store_read_end(st);
        return NGX_DECLINED;
    }

    txnid = ngx_apim_store_read_txnid(st);

    ngx_apim_store_read_end(st);

    ngx_http_apim_lookup_remember(e, hash, txnid, plans, &rec, lk);

    return NGX_OK;

read_error:

    ngx_http_apim_store_error(r->connection->log, st);
    ngx_apim_store_read_end(st);

    return NGX_ERROR;
}


/*
 * May a key call an API: its plan's "apis" (none: every API), narrowed by
 * the key's own list, never widened.  No API name: only keys without
 * lists.
 */

ngx_uint_t
ngx_http_apim_lookup_may_call(ngx_http_apim_lookup_t *lk, ngx_str_t *api)
{
    if (lk->plan->apis
        && (api->len == 0
            || !ngx_http_apim_api_allowed(api, lk->plan->apis)))
    {
        return 0;
    }

    if (lk->apis.len
        && (api->len == 0
            || !ngx_http_apim_api_listed(api, lk->apis.data, lk->apis.len)))
    {
        return 0;
    }

    return 1;
}


/* the answer remembered for the key, if it is still valid by time */

static ngx_int_t
ngx_http_apim_lookup_cached(ngx_http_request_t *r,
    ngx_http_apim_lookup_cache_t *e, ngx_http_apim_lookup_t *lk)
{
    u_char  *p;
    time_t   now;

    now = ngx_time();

    if ((e->not_before && now < e->not_before)
        || (e->expires_at && now >= e->expires_at))
    {
        return NGX_DECLINED;
    }

    /* copied: the entry may be taken by another key while this request
     * still runs */

    p = e->data;

    if ((p = ngx_http_apim_lookup_dup(r->pool, p, e->key_id, &lk->key_id))
           == NULL
        || (p = ngx_http_apim_lookup_dup(r->pool, p, e->consumer,
                                         &lk->consumer))
           == NULL
        || (p = ngx_http_apim_lookup_dup(r->pool, p, e->consumer_id,
                                         &lk->consumer_id))
           == NULL
        || ngx_http_apim_lookup_dup(r->pool, p, e->apis, &lk->apis) == NULL)
    {
        return NGX_ERROR;
    }

    lk->plan = e->plan;
    lk->usage_gen = e->usage_gen;

    return NGX_OK;
}


static void
ngx_http_apim_lookup_remember(ngx_http_apim_lookup_cache_t *e, u_char *hash,
    size_t txnid, ngx_array_t *plans, ngx_apim_key_rec_t *rec,
    ngx_http_apim_lookup_t *lk)
{
    u_char  *p;

    if (txnid == 0
        || lk->key_id.len + lk->consumer.len + lk->consumer_id.len
           + lk->apis.len > NGX_HTTP_APIM_LOOKUP_CACHE_DATA)
    {
        e->txnid = 0;
        return;
    }

    ngx_memcpy(e->hash, hash, NGX_APIM_HASH_LEN);
    e->txnid = txnid;
    e->plans = plans;
    e->plan = lk->plan;
    e->not_before = rec->not_before;
    e->expires_at = rec->expires_at;
    e->usage_gen = lk->usage_gen;

    e->key_id = (u_short) lk->key_id.len;
    e->consumer = (u_short) lk->consumer.len;
    e->consumer_id = (u_short) lk->consumer_id.len;
    e->apis = (u_short) lk->apis.len;

    p = ngx_cpymem(e->data, lk->key_id.data, lk->key_id.len);
    p = ngx_cpymem(p, lk->consumer.data, lk->consumer.len);
    p = ngx_cpymem(p, lk->consumer_id.data, lk->consumer_id.len);
    (void) ngx_cpymem(p, lk->apis.data, lk->apis.len);
}


/* a new configuration: nothing remembered holds */

void
ngx_http_apim_lookup_cache_clear(void)
{
    ngx_memzero(ngx_http_apim_lookup_cache,
                sizeof(ngx_http_apim_lookup_cache));
}


/* copies len bytes at src into the pool; returns the byte after them */

static u_char *
ngx_http_apim_lookup_dup(ngx_pool_t *pool, u_char *src, size_t len,
    ngx_str_t *dst)
{
    dst->len = len;

    if (len == 0) {
        dst->data = NULL;
        return src;
    }

    dst->data = ngx_pnalloc(pool, len);
    if (dst->data == NULL) {
        return NULL;
    }

    ngx_memcpy(dst->data, src, len);

    return src + len;
}
