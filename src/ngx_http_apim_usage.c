
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The usage endpoint: a key holder sees their own consumer, plan, limits
 * and what is left of them, read from the limiter without counting the
 * request:
 *
 *   {"key_id":"..","consumer":"..","plan":"..","policies":[
 *    {"name":"rate","limit":10,"window":1,"used":3,"remaining":7,
 *     "reset":"2026-11-26T12:00:01Z"},
 *    {"name":"quota","limit":1000,"window":"day","used":5,
 *     "remaining":995,"reset":"2026-11-27T00:00:00Z"}]}
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_json.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_limit.h"
#include "ngx_http_apim_catalogue.h"
#include "ngx_http_apim_usage.h"


static ngx_str_t  ngx_http_apim_usage_type = ngx_string("application/json");


ngx_int_t
ngx_http_apim_usage_send(ngx_http_request_t *r, ngx_shm_zone_t *zone,
    ngx_http_apim_lookup_t *lk)
{
    u_char                         qname[2 + NGX_APIM_KEY_MAX];
    ngx_str_t                      name;
    ngx_buf_t                     *b;
    yajl_gen                       g;
    ngx_apim_store_t              *st;
    ngx_http_apim_plan_t          *plan;
    ngx_http_apim_limit_result_t   res;

    plan = lk->plan;

    ngx_memzero(&res, sizeof(ngx_http_apim_limit_result_t));

    if (plan->limit.interval || plan->limit.quota) {

        /* the limiter's name for the key, as the access check counts it */

        name.data = qname;
        name.len = ngx_cpymem(ngx_cpymem(qname, NGX_APIM_USAGE_PREFIX,
                                         sizeof(NGX_APIM_USAGE_PREFIX) - 1),
                              lk->key_id.data, lk->key_id.len)
                   - qname;

        st = ngx_http_apim_store();

        if (st == NULL
            || ngx_http_apim_limit_peek(zone, &name, lk->usage_gen,
                                        &plan->limit, st, &res)
               != NGX_OK)
        {
            /* logged once by the store or the limiter */
            return ngx_http_apim_problem_store(r);
        }
    }

    g = ngx_http_apim_json_gen(r->pool);

    if (g == NULL
        || ngx_http_apim_usage_json(g, &lk->key_id, &lk->consumer, plan,
                                    &res)
           != NGX_OK
        || ngx_http_apim_json_buf(g, r->pool, &b) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* what is left changes with every call elsewhere: never cache it */

    if (ngx_http_apim_header_out(r, "Cache-Control", (u_char *) "no-store",
                                 8)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_json_send(r, NGX_HTTP_OK, &ngx_http_apim_usage_type,
                                   b);
}


/*
 * The usage object of a key, from what the limiter said (its peek); the
 * admin API's usage of a key has the same shape.
 */

ngx_int_t
ngx_http_apim_usage_json(yajl_gen g, ngx_str_t *key_id, ngx_str_t *consumer,
    ngx_http_apim_plan_t *plan, ngx_http_apim_limit_result_t *res)
{
    time_t  now;

    now = ngx_time();

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_str(g, "key_id", key_id) != NGX_OK
        || ngx_http_apim_json_str(g, "consumer", consumer) != NGX_OK
        || ngx_http_apim_json_str(g, "plan", &plan->name) != NGX_OK
        || ngx_http_apim_json_key(g, "policies") != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    if (plan->limit.interval
        && (yajl_gen_map_open(g) != yajl_gen_status_ok
            || ngx_http_apim_json_key(g, "name") != NGX_OK
            || yajl_gen_string(g, (u_char *) "rate", 4) != yajl_gen_status_ok
            || ngx_http_apim_json_int(g, "limit", plan->limit.rate) != NGX_OK
            || ngx_http_apim_json_int(g, "window", plan->rate_window)
               != NGX_OK
            || ngx_http_apim_json_int(g, "used",
                                      ngx_min(res->rate_used,
                                              plan->limit.rate))
               != NGX_OK
            || ngx_http_apim_json_int(g, "remaining", res->rate_remaining)
               != NGX_OK
            || ngx_http_apim_json_time(g, "reset", now + res->rate_reset)
               != NGX_OK
            || yajl_gen_map_close(g) != yajl_gen_status_ok))
    {
        return NGX_ERROR;
    }

    if (plan->limit.quota
        && (yajl_gen_map_open(g) != yajl_gen_status_ok
            || ngx_http_apim_json_key(g, "name") != NGX_OK
            || yajl_gen_string(g, (u_char *) "quota", 5)
               != yajl_gen_status_ok
            || ngx_http_apim_json_int(g, "limit", plan->limit.quota)
               != NGX_OK
            || ngx_http_apim_json_key(g, "window") != NGX_OK
            || ngx_http_apim_json_window(g, &plan->limit.period) != NGX_OK
            || ngx_http_apim_json_int(g, "used", res->quota_used) != NGX_OK
            || ngx_http_apim_json_int(g, "remaining", res->quota_remaining)
               != NGX_OK
            || ngx_http_apim_json_time(g, "reset", now + res->quota_reset)
               != NGX_OK
            || yajl_gen_map_close(g) != yajl_gen_status_ok))
    {
        return NGX_ERROR;
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
