
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Finding the API key in a request (headers, "Authorization: Bearer",
 * query arguments, cookies) and hiding it from the upstream.  A request
 * that carries two different keys is refused by the caller.
 *
 * Hidden headers are marked with hash 0 and dropped when the header list
 * is rebuilt (ngx_http_apim_upstream.c); query arguments and cookies are
 * rewritten here.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_credential.h"


static ngx_int_t ngx_http_apim_credential_take(ngx_str_t *found,
    ngx_str_t *value);
static ngx_int_t ngx_http_apim_credential_query(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t hide, ngx_str_t *found);
static ngx_int_t ngx_http_apim_credential_unlog(ngx_http_request_t *r,
    ngx_str_t *args);
static ngx_int_t ngx_http_apim_credential_cookie(ngx_http_request_t *r,
    ngx_table_elt_t *h, ngx_str_t *name, ngx_uint_t hide, ngx_str_t *found);
static ngx_int_t ngx_http_apim_strip_pairs(ngx_pool_t *pool, ngx_str_t *s,
    ngx_str_t *name, u_char sep, ngx_str_t *value);


/*
 * NGX_OK: the key is in *key; NGX_DECLINED: no key; NGX_BUSY: two
 * different keys; NGX_ERROR: no memory.
 */

ngx_int_t
ngx_http_apim_credential_find(ngx_http_request_t *r, ngx_array_t *sources,
    ngx_uint_t hide, ngx_str_t *key)
{
    u_char                  *p, *last;
    ngx_int_t                rc;
    ngx_str_t                found, value;
    ngx_uint_t               i, j;
    ngx_list_part_t         *part;
    ngx_table_elt_t         *h;
    ngx_http_apim_source_t  *src;

    found.len = 0;
    found.data = NULL;

    src = sources->elts;

    /* headers and cookies: one walk over the request's headers */

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        for (j = 0; j < sources->nelts; j++) {

            if (src[j].type == NGX_HTTP_APIM_SOURCE_QUERY) {
                continue;
            }

            if (src[j].type == NGX_HTTP_APIM_SOURCE_COOKIE) {
                if (h[i].key.len == 6
                    && ngx_strncasecmp(h[i].key.data, (u_char *) "cookie", 6)
                       == 0)
                {
                    rc = ngx_http_apim_credential_cookie(r, &h[i],
                                                         &src[j].name, hide,
                                                         &found);
                    if (rc != NGX_OK) {
                        return rc;
                    }
                }

                continue;
            }

            if (h[i].key.len != src[j].name.len
                || ngx_strncasecmp(h[i].key.data, src[j].name.data,
                                   src[j].name.len) != 0)
            {
                continue;
            }

            value = h[i].value;

            if (src[j].type == NGX_HTTP_APIM_SOURCE_BEARER) {

                /* other schemes (Basic, ...) are not ours: leave them */

                if (value.len < 7
                    || ngx_strncasecmp(value.data, (u_char *) "Bearer ", 7)
                       != 0)
                {
                    continue;
                }

                p = value.data + 7;
                last = value.data + value.len;

                while (p < last && *p == ' ') {
                    p++;
                }

                value.data = p;
                value.len = last - p;
            }

            if (ngx_http_apim_credential_take(&found, &value) != NGX_OK) {
                return NGX_BUSY;
            }

            if (hide) {
                h[i].hash = 0;

                if (r->headers_in.authorization == &h[i]) {
                    r->headers_in.authorization = NULL;
                }
            }
        }
    }

    for (j = 0; j < sources->nelts; j++) {
        if (src[j].type == NGX_HTTP_APIM_SOURCE_QUERY) {
            rc = ngx_http_apim_credential_query(r, &src[j].name, hide, &found);
            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    if (found.data == NULL) {
        return NGX_DECLINED;
    }

    *key = found;

    return NGX_OK;
}


/* the first credential is taken; a different second one is a conflict */

static ngx_int_t
ngx_http_apim_credential_take(ngx_str_t *found, ngx_str_t *value)
{
    if (found->data == NULL) {
        *found = *value;
        return NGX_OK;
    }

    if (found->len == value->len
        && ngx_memcmp(found->data, value->data, value->len) == 0)
    {
        return NGX_OK;
    }

    return NGX_BUSY;
}


static ngx_int_t
ngx_http_apim_credential_query(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t hide, ngx_str_t *found)
{
    u_char     *dst, *src;
    ngx_int_t   rc;
    ngx_str_t   args, value;

    if (r->args.len == 0) {
        return NGX_OK;
    }

    args = r->args;

    rc = ngx_http_apim_strip_pairs(r->pool, &args, name, '&', &value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (value.data == NULL) {
        return NGX_OK;
    }

    /* the key leaves the request line whatever "hide" says: logs show it */

    if (ngx_http_apim_credential_unlog(r, &args) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rc == NGX_BUSY) {
        return NGX_BUSY;
    }

    /* query arguments arrive %-encoded */

    dst = ngx_pnalloc(r->pool, value.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    src = value.data;
    value.data = dst;
    ngx_unescape_uri(&dst, &src, value.len, 0);
    value.len = dst - value.data;

    if (ngx_http_apim_credential_take(found, &value) != NGX_OK) {
        return NGX_BUSY;
    }

    if (hide) {
        r->args = args;
    }

    return NGX_OK;
}


/*
 * The request line and $request_uri, which access and error logs show,
 * lose the query argument that held a key; the upstream then gets its URI
 * rebuilt from r->uri and r->args.
 */

static ngx_int_t
ngx_http_apim_credential_unlog(ngx_http_request_t *r, ngx_str_t *args)
{
    u_char     *p, *q;
    size_t      head, tail;
    ngx_str_t  *line;
    ngx_uint_t  i;

    line = &r->request_line;

    for (i = 0; i < 2; i++, line = &r->unparsed_uri) {

        /* r->args points into both, just past their "?" */

        if (r->args.data <= line->data
            || r->args.data + r->args.len > line->data + line->len)
        {
            continue;
        }

        head = r->args.data - line->data;
        tail = line->data + line->len - (r->args.data + r->args.len);

        p = ngx_pnalloc(r->pool, head + args->len + tail);
        if (p == NULL) {
            return NGX_ERROR;
        }

        q = ngx_cpymem(p, line->data, args->len ? head : head - 1);
        q = ngx_cpymem(q, args->data, args->len);
        q = ngx_cpymem(q, r->args.data + r->args.len, tail);

        line->data = p;
        line->len = q - p;
    }

    r->valid_unparsed_uri = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_credential_cookie(ngx_http_request_t *r, ngx_table_elt_t *h,
    ngx_str_t *name, ngx_uint_t hide, ngx_str_t *found)
{
    ngx_int_t  rc;
    ngx_str_t  cookie, value;

    cookie = h->value;

    rc = ngx_http_apim_strip_pairs(r->pool, &cookie, name, ';', &value);

    if (rc != NGX_OK) {
        return rc;
    }

    if (value.data == NULL) {
        return NGX_OK;
    }

    if (ngx_http_apim_credential_take(found, &value) != NGX_OK) {
        return NGX_BUSY;
    }

    if (hide) {
        h->value = cookie;

        if (cookie.len == 0) {
            h->hash = 0;
        }
    }

    return NGX_OK;
}


/*
 * Finds the first "name=value" pair in a list separated by sep (spaces
 * after a separator are skipped), puts its value in *value, and leaves in
 * *s a copy of the list without any pair of that name.  NGX_BUSY: another
 * pair of that name has another value.
 */

static ngx_int_t
ngx_http_apim_strip_pairs(ngx_pool_t *pool, ngx_str_t *s, ngx_str_t *name,
    u_char sep, ngx_str_t *value)
{
    u_char      *p, *last, *start, *end, *out, *o;
    ngx_uint_t   conflict;

    value->len = 0;
    value->data = NULL;
    conflict = 0;

    /* "; " may stand where the input had ";" */
    out = ngx_pnalloc(pool, 2 * s->len);
    if (out == NULL) {
        return NGX_ERROR;
    }

    o = out;
    p = s->data;
    last = s->data + s->len;

    while (p < last) {

        while (p < last && (*p == ' ' || *p == sep)) {
            p++;
        }

        start = p;

        end = ngx_strlchr(p, last, sep);
        if (end == NULL) {
            end = last;
        }

        p = end;

        if ((size_t) (end - start) > name->len
            && start[name->len] == '='
            && ngx_strncmp(start, name->data, name->len) == 0)
        {
            start += name->len + 1;

            if (value->data == NULL) {
                value->data = start;
                value->len = end - start;

            } else if ((size_t) (end - start) != value->len
                       || ngx_strncmp(start, value->data, value->len) != 0)
            {
                conflict = 1;
            }

            continue;
        }

        if (end == start) {
            continue;
        }

        if (o != out) {
            *o++ = sep;

            if (sep == ';') {
                *o++ = ' ';
            }
        }

        o = ngx_cpymem(o, start, end - start);
    }

    s->data = out;
    s->len = o - out;

    return conflict ? NGX_BUSY : NGX_OK;
}
