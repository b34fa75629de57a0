
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * RFC 9457 problem details: every refusal of both modules is answered with
 * an application/problem+json body naming what went wrong, never echoing a
 * credential.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_json.h"
#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_problem.h"


static ngx_str_t  ngx_http_apim_problem_type =
    ngx_string("application/problem+json");


ngx_int_t
ngx_http_apim_problem_send(ngx_http_request_t *r, ngx_http_apim_problem_t *pr)
{
    ngx_str_t    *s, instance;
    ngx_buf_t    *b;
    yajl_gen      g;
    ngx_uint_t    i;

    g = ngx_http_apim_json_gen(r->pool);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (pr->type.len == 0) {
        ngx_str_set(&pr->type, "about:blank");
    }

    instance = r->uri;

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_str(g, "type", &pr->type) != NGX_OK
        || ngx_http_apim_json_str(g, "title", &pr->title) != NGX_OK
        || ngx_http_apim_json_int(g, "status", pr->status) != NGX_OK
        || (pr->detail.len
            && ngx_http_apim_json_str(g, "detail", &pr->detail) != NGX_OK)
        || ngx_http_apim_json_str(g, "instance", &instance) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (pr->violated) {
        if (ngx_http_apim_json_key(g, "violated-policies") != NGX_OK
            || yajl_gen_array_open(g) != yajl_gen_status_ok)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        s = pr->violated->elts;

        for (i = 0; i < pr->violated->nelts; i++) {
            if (yajl_gen_string(g, s[i].data, s[i].len)
                != yajl_gen_status_ok)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        if (yajl_gen_array_close(g) != yajl_gen_status_ok) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (yajl_gen_map_close(g) != yajl_gen_status_ok
        || ngx_http_apim_json_buf(g, r->pool, &b) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the request body, if any, is not needed: drop it */

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_http_apim_json_send(r, pr->status, &ngx_http_apim_problem_type,
                                   b);
}


/*
 * The read-only endpoints (status, metrics, analytics, catalogue, usage,
 * portal): GET and HEAD go on (NGX_DECLINED); any other method is
 * answered 405 with Allow and the detail given.
 */

ngx_int_t
ngx_http_apim_problem_method(ngx_http_request_t *r, char *detail)
{
    ngx_http_apim_problem_t  pr;

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return NGX_DECLINED;
    }

    if (ngx_http_apim_header_out(r, "Allow", (u_char *) "GET, HEAD", 9)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));
    pr.status = NGX_HTTP_NOT_ALLOWED;
    ngx_str_set(&pr.title, "Method Not Allowed");
    pr.detail.data = (u_char *) detail;
    pr.detail.len = ngx_strlen(detail);

    return ngx_http_apim_problem_send(r, &pr);
}


/* the store cannot answer: 503, for the caller to finalize with */

ngx_int_t
ngx_http_apim_problem_store(ngx_http_request_t *r)
{
    ngx_http_apim_problem_t  pr;

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    pr.status = NGX_HTTP_SERVICE_UNAVAILABLE;
    ngx_str_set(&pr.title, "Service Unavailable");
    ngx_str_set(&pr.detail, "The API gateway's store cannot answer now; "
                            "try again later.");

    return ngx_http_apim_problem_send(r, &pr);
}


/*
 * A limit refuses the request: 429 with Retry-After, the policy named in
 * "violated-policies" ("rate" or "quota"), and the caller's detail; for
 * the caller to finalize with
 */

ngx_int_t
ngx_http_apim_problem_limit(ngx_http_request_t *r, char *policy,
    ngx_str_t *detail, int64_t retry_after)
{
    u_char                   *p;
    ngx_str_t                *violated;
    ngx_http_apim_problem_t   pr;

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    pr.status = NGX_HTTP_TOO_MANY_REQUESTS;
    ngx_str_set(&pr.type, NGX_HTTP_APIM_PROBLEM_QUOTA);
    ngx_str_set(&pr.title, "Too Many Requests");
    pr.detail = *detail;

    pr.violated = ngx_array_create(r->pool, 1, sizeof(ngx_str_t));
    if (pr.violated == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    violated = ngx_array_push(pr.violated);
    if (violated == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    violated->data = (u_char *) policy;
    violated->len = ngx_strlen(policy);

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_apim_header_out(r, "Retry-After", p,
                                 ngx_sprintf(p, "%L", retry_after) - p)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_problem_send(r, &pr);
}
