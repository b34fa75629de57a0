
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The catalogue endpoint: every public API as JSON with its plans and
 * lifecycle, what a key may call when one is sent, the OpenAPI links
 * (?format=openapi), and the docs files at <location>/docs/<api>.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_json.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_catalogue.h"


static void ngx_http_apim_catalogue_base(ngx_http_request_t *r,
    ngx_str_t *base);
static ngx_int_t ngx_http_apim_catalogue_api(ngx_http_request_t *r,
    yajl_gen g, ngx_http_apim_api_t *api, ngx_array_t *plans,
    ngx_http_apim_lookup_t *lk, ngx_str_t *base);
static ngx_int_t ngx_http_apim_catalogue_plans(yajl_gen g,
    ngx_http_apim_api_t *api, ngx_array_t *plans);
static ngx_int_t ngx_http_apim_catalogue_key(yajl_gen g,
    ngx_http_apim_catalogue_t *cat, ngx_http_apim_lookup_t *lk);
static ngx_int_t ngx_http_apim_catalogue_openapi(ngx_http_request_t *r,
    yajl_gen g, ngx_http_apim_catalogue_t *cat, ngx_http_apim_lookup_t *lk,
    ngx_str_t *base);
static ngx_int_t ngx_http_apim_catalogue_link(ngx_http_request_t *r,
    ngx_http_apim_api_t *api, ngx_str_t *base, ngx_str_t *link);
static ngx_uint_t ngx_http_apim_catalogue_visible(ngx_http_apim_api_t *api,
    ngx_http_apim_lookup_t *lk);
static ngx_int_t ngx_http_apim_json_strs(yajl_gen g, const char *name,
    ngx_array_t *a);
static ngx_int_t ngx_http_apim_catalogue_404(ngx_http_request_t *r);


static ngx_str_t  ngx_http_apim_catalogue_type =
    ngx_string("application/json");

static ngx_str_t  ngx_http_apim_states[] = {
    ngx_string("active"),
    ngx_string("deprecated"),
    ngx_string("sunset")
};

static char  *ngx_http_apim_periods[] = {
    NULL, "hour", "day", "week", "month", "year"
};


/*
 * <location>/docs/<api>: the API's docs file; NGX_DECLINED for the
 * catalogue itself
 */

ngx_int_t
ngx_http_apim_catalogue_docs(ngx_http_request_t *r,
    ngx_http_apim_catalogue_t *cat)
{
    ngx_str_t              base, name;
    ngx_buf_t             *b;
    ngx_uint_t             i;
    ngx_http_apim_api_t  **ap;

    ngx_http_apim_catalogue_base(r, &base);

    if (r->uri.len <= base.len + 1) {
        return NGX_DECLINED;
    }

    if (r->uri.len <= base.len + sizeof("/docs/") - 1
        || ngx_strncmp(r->uri.data + base.len, "/docs/", 6) != 0)
    {
        return ngx_http_apim_catalogue_404(r);
    }

    name.data = r->uri.data + base.len + 6;
    name.len = r->uri.len - base.len - 6;

    ap = cat->apis.elts;

    for (i = 0; i < cat->apis.nelts; i++) {
        if (ap[i]->name.len != name.len
            || ngx_strncmp(ap[i]->name.data, name.data, name.len) != 0)
        {
            continue;
        }

        /* a private API's docs are as private as its catalogue entry */

        if (ap[i]->docs_body.len == 0
            || ap[i]->visibility != NGX_HTTP_APIM_API_PUBLIC)
        {
            break;
        }

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = ap[i]->docs_body.data;
        b->last = ap[i]->docs_body.data + ap[i]->docs_body.len;
        b->memory = 1;
        b->last_buf = 1;
        b->last_in_chain = 1;

        return ngx_http_apim_json_send(r, NGX_HTTP_OK, &ap[i]->docs_type, b);
    }

    return ngx_http_apim_catalogue_404(r);
}


ngx_int_t
ngx_http_apim_catalogue_send(ngx_http_request_t *r,
    ngx_http_apim_catalogue_t *cat, ngx_array_t *plans,
    ngx_http_apim_lookup_t *lk)
{
    ngx_int_t                 rc;
    ngx_str_t                 base, format;
    ngx_buf_t                *b;
    yajl_gen                  g;
    ngx_uint_t                i;
    ngx_http_apim_api_t     **ap;
    ngx_http_apim_problem_t   pr;

    ngx_http_apim_catalogue_base(r, &base);

    g = ngx_http_apim_json_gen(r->pool);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {

        if (format.len == 7 && ngx_strncmp(format.data, "openapi", 7) == 0) {
            rc = ngx_http_apim_catalogue_openapi(r, g, cat, lk, &base);
            goto done;
        }

        if (!(format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0)) {
            ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));
            pr.status = NGX_HTTP_BAD_REQUEST;
            ngx_str_set(&pr.title, "Bad Request");
            ngx_str_set(&pr.detail, "The format must be \"json\" or "
                                    "\"openapi\".");
            return ngx_http_apim_problem_send(r, &pr);
        }
    }

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "apis") != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ap = cat->apis.elts;

    for (i = 0; i < cat->apis.nelts; i++) {
        if (!ngx_http_apim_catalogue_visible(ap[i], lk)) {
            continue;
        }

        if (ngx_http_apim_catalogue_api(r, g, ap[i], plans, lk, &base)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = (lk == NULL) ? NGX_OK : ngx_http_apim_catalogue_key(g, cat, lk);

    /* a key's own view is not for a shared cache */

    if (lk
        && ngx_http_apim_header_out(r, "Cache-Control",
                                    (u_char *) "private, no-store", 17)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK && yajl_gen_map_close(g) != yajl_gen_status_ok) {
        rc = NGX_ERROR;
    }

done:

    if (rc != NGX_OK || ngx_http_apim_json_buf(g, r->pool, &b) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_json_send(r, NGX_HTTP_OK,
                                   &ngx_http_apim_catalogue_type, b);
}


/* the location's name without its trailing slash: "/apis/" is "/apis" */

static void
ngx_http_apim_catalogue_base(ngx_http_request_t *r, ngx_str_t *base)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    *base = clcf->name;

    while (base->len && base->data[base->len - 1] == '/') {
        base->len--;
    }
}


static ngx_int_t
ngx_http_apim_catalogue_api(ngx_http_request_t *r, yajl_gen g,
    ngx_http_apim_api_t *api, ngx_array_t *plans, ngx_http_apim_lookup_t *lk,
    ngx_str_t *base)
{
    ngx_str_t  link, vis, *state;

    if (ngx_http_apim_catalogue_link(r, api, base, &link) != NGX_OK) {
        return NGX_ERROR;
    }

    state = &ngx_http_apim_states[ngx_http_apim_api_state(api, ngx_time())];

    if (api->visibility == NGX_HTTP_APIM_API_PUBLIC) {
        ngx_str_set(&vis, "public");

    } else {
        ngx_str_set(&vis, "private");
    }

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_str(g, "name", &api->name) != NGX_OK
        || ngx_http_apim_json_opt(g, "version", &api->version) != NGX_OK
        || ngx_http_apim_json_opt(g, "title", &api->title) != NGX_OK
        || ngx_http_apim_json_opt(g, "description", &api->description)
           != NGX_OK
        || ngx_http_apim_json_opt(g, "docs", &link) != NGX_OK
        || ngx_http_apim_json_opt(g, "owner", &api->owner) != NGX_OK
        || ngx_http_apim_json_strs(g, "tags", api->tags) != NGX_OK
        || ngx_http_apim_json_strs(g, "paths", &api->paths) != NGX_OK
        || ngx_http_apim_json_str(g, "visibility", &vis) != NGX_OK
        || ngx_http_apim_json_str(g, "state", state) != NGX_OK
        || ngx_http_apim_json_time(g, "deprecated", api->deprecated)
           != NGX_OK
        || ngx_http_apim_json_time(g, "sunset", api->sunset) != NGX_OK
        || ngx_http_apim_catalogue_plans(g, api, plans) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (lk
        && (ngx_http_apim_json_key(g, "callable") != NGX_OK
            || yajl_gen_bool(g, ngx_http_apim_lookup_may_call(lk, &api->name))
               != yajl_gen_status_ok))
    {
        return NGX_ERROR;
    }

    if (yajl_gen_map_close(g) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the plans that may call the API, with their limits */

static ngx_int_t
ngx_http_apim_catalogue_plans(yajl_gen g, ngx_http_apim_api_t *api,
    ngx_array_t *plans)
{
    ngx_uint_t             i;
    ngx_http_apim_plan_t  *plan;

    if (ngx_http_apim_json_key(g, "plans") != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    plan = plans->elts;

    for (i = 0; i < plans->nelts; i++) {
        if (!ngx_http_apim_api_allowed(&api->name, plan[i].apis)) {
            continue;
        }

        if (yajl_gen_map_open(g) != yajl_gen_status_ok
            || ngx_http_apim_json_str(g, "name", &plan[i].name) != NGX_OK
            || ngx_http_apim_json_key(g, "rate") != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (plan[i].limit.interval == 0) {
            if (yajl_gen_null(g) != yajl_gen_status_ok) {
                return NGX_ERROR;
            }

        } else if (yajl_gen_map_open(g) != yajl_gen_status_ok
                   || ngx_http_apim_json_int(g, "limit", plan[i].limit.rate)
                      != NGX_OK
                   || ngx_http_apim_json_int(g, "window",
                                             plan[i].rate_window)
                      != NGX_OK
                   || ngx_http_apim_json_int(g, "burst", plan[i].limit.burst)
                      != NGX_OK
                   || yajl_gen_map_close(g) != yajl_gen_status_ok)
        {
            return NGX_ERROR;
        }

        if (ngx_http_apim_json_key(g, "quota") != NGX_OK) {
            return NGX_ERROR;
        }

        if (plan[i].limit.quota == 0) {
            if (yajl_gen_null(g) != yajl_gen_status_ok) {
                return NGX_ERROR;
            }

        } else if (yajl_gen_map_open(g) != yajl_gen_status_ok
                   || ngx_http_apim_json_int(g, "limit", plan[i].limit.quota)
                      != NGX_OK
                   || ngx_http_apim_json_key(g, "window") != NGX_OK
                   || ngx_http_apim_json_window(g, &plan[i].limit.period)
                      != NGX_OK
                   || ngx_http_apim_json_key(g, "rolling") != NGX_OK
                   || yajl_gen_bool(g, plan[i].limit.period.rolling)
                      != yajl_gen_status_ok
                   || yajl_gen_map_close(g) != yajl_gen_status_ok)
        {
            return NGX_ERROR;
        }

        if (yajl_gen_map_close(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* "key": who the key is, and every API it may call */

static ngx_int_t
ngx_http_apim_catalogue_key(yajl_gen g, ngx_http_apim_catalogue_t *cat,
    ngx_http_apim_lookup_t *lk)
{
    ngx_uint_t             i;
    ngx_http_apim_api_t  **ap;

    if (ngx_http_apim_json_key(g, "key") != NGX_OK
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_str(g, "key_id", &lk->key_id) != NGX_OK
        || ngx_http_apim_json_str(g, "consumer", &lk->consumer) != NGX_OK
        || ngx_http_apim_json_str(g, "plan", &lk->plan->name) != NGX_OK
        || ngx_http_apim_json_key(g, "apis") != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    ap = cat->apis.elts;

    for (i = 0; i < cat->apis.nelts; i++) {
        if (ngx_http_apim_lookup_may_call(lk, &ap[i]->name)
            && yajl_gen_string(g, ap[i]->name.data, ap[i]->name.len)
               != yajl_gen_status_ok)
        {
            return NGX_ERROR;
        }
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* ?format=openapi: {"openapi":[{"name":..,"version":..,"url":..}]} */

static ngx_int_t
ngx_http_apim_catalogue_openapi(ngx_http_request_t *r, yajl_gen g,
    ngx_http_apim_catalogue_t *cat, ngx_http_apim_lookup_t *lk,
    ngx_str_t *base)
{
    ngx_str_t              link;
    ngx_uint_t             i;
    ngx_http_apim_api_t  **ap;

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "openapi") != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    ap = cat->apis.elts;

    for (i = 0; i < cat->apis.nelts; i++) {
        if (!ngx_http_apim_catalogue_visible(ap[i], lk)) {
            continue;
        }

        if (ngx_http_apim_catalogue_link(r, ap[i], base, &link) != NGX_OK
            || yajl_gen_map_open(g) != yajl_gen_status_ok
            || ngx_http_apim_json_str(g, "name", &ap[i]->name) != NGX_OK
            || ngx_http_apim_json_opt(g, "version", &ap[i]->version)
               != NGX_OK
            || ngx_http_apim_json_opt(g, "title", &ap[i]->title) != NGX_OK
            || ngx_http_apim_json_opt(g, "url", &link) != NGX_OK
            || yajl_gen_map_close(g) != yajl_gen_status_ok)
        {
            return NGX_ERROR;
        }
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a docs URL as it is; a docs file at <location>/docs/<api> */

static ngx_int_t
ngx_http_apim_catalogue_link(ngx_http_request_t *r, ngx_http_apim_api_t *api,
    ngx_str_t *base, ngx_str_t *link)
{
    u_char  *p;

    if (api->docs_body.len == 0) {
        *link = api->docs;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, base->len + sizeof("/docs/") + api->name.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    link->data = p;
    link->len = ngx_sprintf(p, "%V/docs/%V", base, &api->name) - p;

    return NGX_OK;
}


/* public APIs to all; private ones only to keys that may call them */

static ngx_uint_t
ngx_http_apim_catalogue_visible(ngx_http_apim_api_t *api,
    ngx_http_apim_lookup_t *lk)
{
    if (api->visibility == NGX_HTTP_APIM_API_PUBLIC) {
        return 1;
    }

    return lk && ngx_http_apim_lookup_may_call(lk, &api->name);
}


/* a quota's window: its calendar unit's name, or its length in seconds */

ngx_int_t
ngx_http_apim_json_window(yajl_gen g, ngx_apim_period_t *p)
{
    const char  *name;

    if (p->unit == NGX_APIM_PERIOD_SECONDS) {
        return yajl_gen_integer(g, p->seconds) == yajl_gen_status_ok
               ? NGX_OK : NGX_ERROR;
    }

    name = ngx_http_apim_periods[p->unit];

    return yajl_gen_string(g, (const u_char *) name, ngx_strlen(name))
           == yajl_gen_status_ok
           ? NGX_OK : NGX_ERROR;
}


/* an RFC 3339 time; 0 is null */

ngx_int_t
ngx_http_apim_json_time(yajl_gen g, const char *name, time_t t)
{
    u_char  buf[NGX_HTTP_APIM_TIME_LEN];

    if (ngx_http_apim_json_key(g, name) != NGX_OK) {
        return NGX_ERROR;
    }

    if (t == 0) {
        return yajl_gen_null(g) == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;
    }

    ngx_http_apim_time_format(buf, t);

    return yajl_gen_string(g, buf, NGX_HTTP_APIM_TIME_LEN)
           == yajl_gen_status_ok
           ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_apim_json_strs(yajl_gen g, const char *name, ngx_array_t *a)
{
    ngx_str_t   *s;
    ngx_uint_t   i;

    if (ngx_http_apim_json_key(g, name) != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    if (a) {
        s = a->elts;

        for (i = 0; i < a->nelts; i++) {
            if (yajl_gen_string(g, s[i].data, s[i].len)
                != yajl_gen_status_ok)
            {
                return NGX_ERROR;
            }
        }
    }

    return yajl_gen_array_close(g) == yajl_gen_status_ok ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_apim_catalogue_404(ngx_http_request_t *r)
{
    ngx_http_apim_problem_t  pr;

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    pr.status = NGX_HTTP_NOT_FOUND;
    ngx_str_set(&pr.title, "Not Found");
    ngx_str_set(&pr.detail, "The catalogue has no such document.");

    return ngx_http_apim_problem_send(r, &pr);
}
