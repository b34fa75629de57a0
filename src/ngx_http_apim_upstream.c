
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * What the upstream is told: the request's header list is rebuilt without
 * the hidden credential (marked with hash 0) and without any client-sent
 * consumer header, and, when up is given, with the consumer under Kong's
 * header names, so that upstreams written for Kong work unchanged.
 *
 * The list is rebuilt rather than edited in place: nginx keeps pointers to
 * some of its elements (r->headers_in.host, ...), which must stay valid.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_upstream.h"


typedef struct {
    ngx_str_t         key;
    u_char           *lowcase;
    ngx_uint_t        hash;
} ngx_http_apim_upstream_header_t;


static ngx_uint_t ngx_http_apim_upstream_spoofed(ngx_table_elt_t *h);
static ngx_uint_t ngx_http_apim_upstream_set(ngx_table_elt_t *h,
    ngx_http_apim_upstream_header_t *uh, ngx_str_t *value);


static ngx_str_t  ngx_http_apim_consumer_headers[] = {
    ngx_string("X-Consumer-ID"),
    ngx_string("X-Consumer-Custom-ID"),
    ngx_string("X-Consumer-Username"),
    ngx_string("X-Credential-Identifier"),
    ngx_string("X-Anonymous-Consumer"),
    ngx_null_string
};


/* the headers we send, hashed once (proxy_set_header looks them up) */

static ngx_http_apim_upstream_header_t  ngx_http_apim_sent_headers[] = {
    { ngx_string("X-Consumer-ID"), (u_char *) "x-consumer-id", 0 },
    { ngx_string("X-Consumer-Username"), (u_char *) "x-consumer-username", 0 },
    { ngx_string("X-Credential-Identifier"),
      (u_char *) "x-credential-identifier", 0 }
};


void
ngx_http_apim_upstream_init(void)
{
    ngx_uint_t  i;

    for (i = 0; i < 3; i++) {
        ngx_http_apim_sent_headers[i].hash =
            ngx_hash_key(ngx_http_apim_sent_headers[i].lowcase,
                         ngx_http_apim_sent_headers[i].key.len);
    }
}


ngx_int_t
ngx_http_apim_upstream_headers(ngx_http_request_t *r,
    ngx_http_apim_upstream_t *up)
{
    ngx_uint_t        i, n, k, drop;
    ngx_list_t        list;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *nh;

    /* count the headers, and those to drop: often none is */

    n = 0;
    drop = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].hash == 0 || ngx_http_apim_upstream_spoofed(&h[i])) {
                drop++;
            }
        }

        n += part->nelts;
    }

    if (drop == 0 && up == NULL) {
        return NGX_OK;
    }

    /*
     * One part with room for every header kept and the three we add: it
     * is filled in place, without a ngx_list_push() call per header.
     */

    if (ngx_list_init(&list, r->pool, n + 3, sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    nh = list.part.elts;
    k = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].hash == 0 || ngx_http_apim_upstream_spoofed(&h[i])) {
                continue;
            }

            nh[k++] = h[i];
        }
    }

    if (up) {
        k += ngx_http_apim_upstream_set(&nh[k], &ngx_http_apim_sent_headers[0],
                                        &up->consumer_id);
        k += ngx_http_apim_upstream_set(&nh[k], &ngx_http_apim_sent_headers[1],
                                        &up->consumer_name);
        k += ngx_http_apim_upstream_set(&nh[k], &ngx_http_apim_sent_headers[2],
                                        &up->credential_id);
    }

    list.part.nelts = k;

    r->headers_in.headers = list;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_apim_upstream_spoofed(ngx_table_elt_t *h)
{
    ngx_str_t  *name;

    for (name = ngx_http_apim_consumer_headers; name->len; name++) {
        if (h->key.len == name->len
            && ngx_strncasecmp(h->key.data, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* a header we send, unless its value is empty: how many were set */

static ngx_uint_t
ngx_http_apim_upstream_set(ngx_table_elt_t *h,
    ngx_http_apim_upstream_header_t *uh, ngx_str_t *value)
{
    if (value->len == 0) {
        return 0;
    }

    h->key = uh->key;
    h->value = *value;
    h->lowcase_key = uh->lowcase;
    h->hash = uh->hash;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return 1;
}
