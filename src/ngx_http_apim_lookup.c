
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Finding a key in the store: its record, its consumer and its plan, in
 * one read transaction, with the reasons a key is refused.  The access
 * check, the catalogue and the usage endpoint share it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_key.h"
#include "ngx_apim_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_lookup.h"


static ngx_int_t ngx_http_apim_lookup_copy(ngx_pool_t *pool, ngx_str_t *dst,
    ngx_apim_str_t *src);


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
    u_char                    hash[NGX_APIM_HASH_LEN];
    int                       rc;
    time_t                    now;
    ngx_str_t                 name;
    ngx_apim_val_t            val;
    ngx_apim_store_t         *st;
    ngx_apim_key_rec_t        rec;
    ngx_apim_consumer_rec_t   consumer;

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
        || ngx_http_apim_lookup_copy(r->pool, &lk->key_id, &rec.id) != NGX_OK
        || ngx_http_apim_lookup_copy(r->pool, &lk->consumer, &rec.consumer)
           != NGX_OK
        || ngx_http_apim_lookup_copy(r->pool, &lk->apis, &rec.apis) != NGX_OK)
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
        || ngx_http_apim_lookup_copy(r->pool, &lk->consumer_id, &consumer.id)
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

    ngx_apim_store_read_end(st);

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


/* copies a string out of the store's map before the read ends */

static ngx_int_t
ngx_http_apim_lookup_copy(ngx_pool_t *pool, ngx_str_t *dst,
    ngx_apim_str_t *src)
{
    dst->len = src->len;

    if (src->len == 0) {
        dst->data = NULL;
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return NGX_OK;
}
