
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * JSON with yajl, its memory taken from an nginx pool so that nothing
 * outlives the request and nothing needs freeing on error paths.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_json.h"


static void *ngx_http_apim_json_malloc(void *ctx, size_t size);
static void *ngx_http_apim_json_realloc(void *ctx, void *ptr, size_t size);
static void ngx_http_apim_json_free(void *ctx, void *ptr);


/* each block carries its size in front, for realloc */

static void *
ngx_http_apim_json_malloc(void *ctx, size_t size)
{
    size_t  *p;

    p = ngx_palloc(ctx, sizeof(size_t) + size);
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void *
ngx_http_apim_json_realloc(void *ctx, void *ptr, size_t size)
{
    size_t  *old;
    void    *p;

    if (ptr == NULL) {
        return ngx_http_apim_json_malloc(ctx, size);
    }

    old = (size_t *) ptr - 1;

    if (*old >= size) {
        return ptr;
    }

    p = ngx_http_apim_json_malloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, ptr, *old);
    ngx_pfree(ctx, old);

    return p;
}


static void
ngx_http_apim_json_free(void *ctx, void *ptr)
{
    if (ptr) {
        ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}


/* yajl's memory from a pool, for a generator or a parser */

yajl_alloc_funcs *
ngx_http_apim_json_alloc(ngx_pool_t *pool)
{
    yajl_alloc_funcs  *af;

    af = ngx_palloc(pool, sizeof(yajl_alloc_funcs));
    if (af == NULL) {
        return NULL;
    }

    af->malloc = ngx_http_apim_json_malloc;
    af->realloc = ngx_http_apim_json_realloc;
    af->free = ngx_http_apim_json_free;
    af->ctx = pool;

    return af;
}


yajl_gen
ngx_http_apim_json_gen(ngx_pool_t *pool)
{
    yajl_gen              g;
    yajl_alloc_funcs     *af;

    af = ngx_http_apim_json_alloc(pool);
    if (af == NULL) {
        return NULL;
    }

    g = yajl_gen_alloc(af);
    if (g == NULL) {
        return NULL;
    }

    /* invalid UTF-8 in a value fails the generator instead of the client */
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    return g;
}


ngx_int_t
ngx_http_apim_json_key(yajl_gen g, const char *name)
{
    if (yajl_gen_string(g, (const u_char *) name, ngx_strlen(name))
        != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_apim_json_str(yajl_gen g, const char *name, ngx_str_t *s)
{
    if (ngx_http_apim_json_key(g, name) != NGX_OK) {
        return NGX_ERROR;
    }

    if (yajl_gen_string(g, s->data, s->len) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a string, or null when empty */

ngx_int_t
ngx_http_apim_json_opt(yajl_gen g, const char *name, ngx_str_t *s)
{
    if (s->len) {
        return ngx_http_apim_json_str(g, name, s);
    }

    if (ngx_http_apim_json_key(g, name) != NGX_OK
        || yajl_gen_null(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_apim_json_int(yajl_gen g, const char *name, int64_t n)
{
    if (ngx_http_apim_json_key(g, name) != NGX_OK) {
        return NGX_ERROR;
    }

    if (yajl_gen_integer(g, n) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the generated text, followed by a newline, as a buffer ready to send */

ngx_int_t
ngx_http_apim_json_buf(yajl_gen g, ngx_pool_t *pool, ngx_buf_t **b)
{
    size_t                len;
    ngx_buf_t            *buf;
    const unsigned char  *text;

    if (yajl_gen_get_buf(g, &text, &len) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    buf = ngx_create_temp_buf(pool, len + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    buf->last = ngx_cpymem(buf->last, text, len);
    *buf->last++ = '\n';

    buf->last_buf = 1;
    buf->last_in_chain = 1;

    *b = buf;

    return NGX_OK;
}


/* sends a whole JSON response: status, type, length, the buffer */

ngx_int_t
ngx_http_apim_json_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
