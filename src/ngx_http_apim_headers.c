
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Rate-limit response headers: RateLimit-Policy and RateLimit as
 * draft-ietf-httpapi-ratelimit-headers-10 has them ("ietf"), or the older
 * X-RateLimit-Limit, -Remaining and -Reset ("legacy").  Both speak of the
 * plan's policy with the least remaining.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_headers.h"


static u_char *ngx_http_apim_headers_int(u_char *p, int64_t n);


ngx_int_t
ngx_http_apim_headers_set(ngx_http_request_t *r, ngx_uint_t mode,
    ngx_http_apim_plan_t *plan, ngx_http_apim_limit_result_t *res)
{
    u_char     *p, *v;
    char       *name;
    size_t      len;
    int64_t     limit, remaining, reset;
    ngx_uint_t  quota;

    if (mode == NGX_HTTP_APIM_HEADERS_OFF || plan->policy.len == 0) {
        return NGX_OK;
    }

    /* the policy with the least remaining; the quota on a tie */

    quota = plan->limit.quota
            && (plan->limit.interval == 0
                || res->rejected == NGX_HTTP_APIM_LIMIT_QUOTA
                || (res->rejected != NGX_HTTP_APIM_LIMIT_RATE
                    && res->quota_remaining <= res->rate_remaining));

    if (quota) {
        name = "\"quota\";r=";
        len = sizeof("\"quota\";r=") - 1;
        limit = plan->limit.quota;
        remaining = res->quota_remaining;
        reset = res->quota_reset;

    } else {
        name = "\"rate\";r=";
        len = sizeof("\"rate\";r=") - 1;
        limit = plan->limit.rate;
        remaining = res->rate_remaining;
        reset = res->rate_reset;
    }

    v = ngx_pnalloc(r->pool, 3 * NGX_INT64_LEN + sizeof("\"quota\";r=;t="));
    if (v == NULL) {
        return NGX_ERROR;
    }

    if (mode == NGX_HTTP_APIM_HEADERS_IETF) {
        /* on every request: without ngx_sprintf()'s format parsing */

        p = ngx_cpymem(v, name, len);
        p = ngx_http_apim_headers_int(p, remaining);
        p = ngx_cpymem(p, ";t=", sizeof(";t=") - 1);
        p = ngx_http_apim_headers_int(p, reset);

        if (ngx_http_apim_header_out(r, "RateLimit-Policy",
                                      plan->policy.data, plan->policy.len)
            == NULL
            || ngx_http_apim_header_out(r, "RateLimit", v, p - v) == NULL)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    /* legacy */

    p = ngx_sprintf(v, "%L", limit);

    if (ngx_http_apim_header_out(r, "X-RateLimit-Limit", v, p - v)
        == NULL)
    {
        return NGX_ERROR;
    }

    v = p;
    p = ngx_sprintf(v, "%L", remaining);

    if (ngx_http_apim_header_out(r, "X-RateLimit-Remaining", v, p - v)
        == NULL)
    {
        return NGX_ERROR;
    }

    v = p;
    p = ngx_sprintf(v, "%L", reset);

    if (ngx_http_apim_header_out(r, "X-RateLimit-Reset", v, p - v) == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the decimal digits of n, as "%L" prints them */

static u_char *
ngx_http_apim_headers_int(u_char *p, int64_t n)
{
    u_char    digits[NGX_INT64_LEN];
    u_char   *d;
    uint64_t  u;

    if (n < 0) {
        *p++ = '-';
        u = (uint64_t) -(n + 1) + 1;

    } else {
        u = (uint64_t) n;
    }

    d = digits + NGX_INT64_LEN;

    do {
        *--d = (u_char) (u % 10 + '0');
        u /= 10;
    } while (u);

    return ngx_cpymem(p, d, digits + NGX_INT64_LEN - d);
}


/* a response header; the key is a constant string */

ngx_table_elt_t *
ngx_http_apim_header_out(ngx_http_request_t *r, char *key, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    return h;
}
