
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The admin API's read-only parts from nginx.conf and the store: the
 * plans (apim_plan) with their limits, and the store's status.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_admin.h"
#include "ngx_http_apim_plan.h"
#include "ngx_http_apim_status.h"


static ngx_int_t ngx_http_apim_admin_plan_json(yajl_gen g,
    ngx_http_apim_plan_t *plan);


ngx_int_t
ngx_http_apim_admin_plan_list(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    yajl_gen               g;
    ngx_uint_t             i;
    ngx_http_apim_plan_t  *plan;

    g = ngx_http_apim_json_gen(r->pool);

    if (g == NULL
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "items") != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    plan = ctx->conf->plans->elts;

    for (i = 0; i < ctx->conf->plans->nelts; i++) {
        if (ngx_http_apim_admin_plan_json(g, &plan[i]) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_send(r, NGX_HTTP_OK, g);
}


ngx_int_t
ngx_http_apim_admin_plan_get(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    yajl_gen               g;
    ngx_http_apim_plan_t  *plan;

    plan = ngx_http_apim_plan_find(ctx->conf->plans, ctx->args[0].data,
                                   ctx->args[0].len);

    if (plan == NULL) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                         "no plan \"%V\"", &ctx->args[0]);
    }

    g = ngx_http_apim_json_gen(r->pool);

    if (g == NULL || ngx_http_apim_admin_plan_json(g, plan) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_send(r, NGX_HTTP_OK, g);
}


/*
 * {"name":"gold","rate":{"limit":100,"window":1,"burst":200},
 *  "quota":{"limit":1000000,"window":"month","rolling":false},
 *  "apis":null}: the catalogue's plan, with the APIs it may call
 */

static ngx_int_t
ngx_http_apim_admin_plan_json(yajl_gen g, ngx_http_apim_plan_t *plan)
{
    ngx_str_t   *api;
    ngx_uint_t   i;

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_str(g, "name", &plan->name) != NGX_OK
        || ngx_http_apim_json_key(g, "rate") != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (plan->limit.interval == 0) {
        if (yajl_gen_null(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

    } else if (yajl_gen_map_open(g) != yajl_gen_status_ok
               || ngx_http_apim_json_int(g, "limit", plan->limit.rate)
                  != NGX_OK
               || ngx_http_apim_json_int(g, "window", plan->rate_window)
                  != NGX_OK
               || ngx_http_apim_json_int(g, "burst", plan->limit.burst)
                  != NGX_OK
               || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    if (ngx_http_apim_json_key(g, "quota") != NGX_OK) {
        return NGX_ERROR;
    }

    if (plan->limit.quota == 0) {
        if (yajl_gen_null(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

    } else if (yajl_gen_map_open(g) != yajl_gen_status_ok
               || ngx_http_apim_json_int(g, "limit", plan->limit.quota)
                  != NGX_OK
               || ngx_http_apim_json_key(g, "window") != NGX_OK
               || ngx_http_apim_json_window(g, &plan->limit.period) != NGX_OK
               || ngx_http_apim_json_key(g, "rolling") != NGX_OK
               || yajl_gen_bool(g, plan->limit.period.rolling)
                  != yajl_gen_status_ok
               || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    if (ngx_http_apim_json_key(g, "apis") != NGX_OK) {
        return NGX_ERROR;
    }

    if (plan->apis == NULL) {
        if (yajl_gen_null(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

    } else {
        if (yajl_gen_array_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        api = plan->apis->elts;

        for (i = 0; i < plan->apis->nelts; i++) {
            if (yajl_gen_string(g, api[i].data, api[i].len)
                != yajl_gen_status_ok)
            {
                return NGX_ERROR;
            }
        }

        if (yajl_gen_array_close(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }
    }

    if (yajl_gen_map_close(g) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_apim_admin_status(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    return ngx_http_apim_status_send(r, &ctx->conf->store->path,
                                     ctx->conf->store->size);
}
