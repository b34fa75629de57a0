
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The admin API's view of a key's usage: for each policy of the key's
 * plan, its limit, what is used, what remains and when it is restored,
 * peeked at in the limiter's shared memory without counting; and the
 * reset, which bumps the key's usage generation in the store so that
 * every worker drops the count it holds on the key's next use.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_ops.h"
#include "ngx_http_apim_admin.h"
#include "ngx_http_apim_plan.h"
#include "ngx_http_apim_usage.h"


ngx_int_t
ngx_http_apim_admin_usage_get(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    u_char                        *buf, qname[2 + NGX_APIM_KEY_MAX];
    size_t                         len;
    yajl_gen                       g;
    ngx_int_t                      rc;
    ngx_str_t                      plan_name, name, who, *id;
    ngx_apim_val_t                 val;
    ngx_apim_store_t              *st;
    ngx_apim_key_rec_t             rec;
    ngx_http_apim_plan_t          *plan;
    ngx_apim_consumer_rec_t        consumer;
    ngx_http_apim_limit_result_t   res;

    id = &ctx->args[0];     /* at most 64 bytes: the router checked */

    st = ngx_http_apim_store();

    if (st == NULL || ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    rc = ngx_http_apim_admin_key_find(r->pool, st, id, &buf, &len);

    if (rc == NGX_OK && ngx_apim_key_rec_decode(&rec, buf, len) != 0) {
        rc = NGX_ABORT;
    }

    ngx_str_null(&plan_name);

    if (rc == NGX_OK) {

        /* the plan that applies: the key's own, else its consumer's */

        if (rec.plan.len) {
            plan_name.data = (u_char *) rec.plan.data;
            plan_name.len = rec.plan.len;

        } else if (ngx_apim_store_get(st, NGX_APIM_DB_CONSUMERS,
                                      rec.consumer.data, rec.consumer.len,
                                      &val)
                   == NGX_APIM_STORE_OK
                   && ngx_apim_consumer_rec_decode(&consumer, val.data,
                                                   val.len)
                      == 0
                   && ngx_http_apim_store_str(r->pool, &plan_name,
                                              &consumer.plan)
                      != NGX_OK)
        {
            rc = NGX_ERROR;
        }
    }

    ngx_apim_store_read_end(st);

    if (rc == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                         "no key \"%V\"", id);
    }

    if (rc == NGX_ABORT) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "the record of key \"%V\" is "
                                         "damaged", id);
    }

    if (rc != NGX_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    plan = plan_name.len ? ngx_http_apim_plan_find(ctx->conf->plans,
                                                   plan_name.data,
                                                   plan_name.len)
                         : NULL;

    ngx_memzero(&res, sizeof(ngx_http_apim_limit_result_t));

    if (plan && (plan->limit.interval || plan->limit.quota)) {
        name.data = qname;
        name.len = ngx_cpymem(ngx_cpymem(qname, NGX_APIM_USAGE_PREFIX,
                                         sizeof(NGX_APIM_USAGE_PREFIX) - 1),
                              id->data, id->len)
                   - qname;

        if (ngx_http_apim_limit_peek(*ctx->conf->zone, &name, rec.usage_gen,
                                     &plan->limit, st, &res)
            != NGX_OK)
        {
            /* logged once by the limiter */
            return ngx_http_apim_admin_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "the usage of key \"%V\" cannot "
                                             "be read now", id);
        }
    }

    g = ngx_http_apim_json_gen(r->pool);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    who.data = (u_char *) rec.consumer.data;
    who.len = rec.consumer.len;

    if (plan) {
        /* the shape apim_usage answers with */

        if (ngx_http_apim_usage_json(g, id, &who, plan, &res) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_apim_admin_send(r, NGX_HTTP_OK, g);
    }

    /* a plan that no apim_plan defines: nothing is counted */

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_str(g, "key_id", id) != NGX_OK
        || ngx_http_apim_json_str(g, "consumer", &who) != NGX_OK
        || ngx_http_apim_json_key(g, "plan") != NGX_OK
        || (plan_name.len ? yajl_gen_string(g, plan_name.data, plan_name.len)
                          : yajl_gen_null(g))
           != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "policies") != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok
        || yajl_gen_array_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_send(r, NGX_HTTP_OK, g);
}


ngx_int_t
ngx_http_apim_admin_usage_reset(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    return ngx_http_apim_admin_key_write(r, ctx, ngx_apim_ops_usage_reset,
                                         "reset the usage of key");
}
