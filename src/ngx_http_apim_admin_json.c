
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The admin API's JSON in: a request body parsed by yajl (which checks
 * UTF-8) into a small tree in the request pool, with nesting limited, so
 * that handlers check every field's name and type before they change
 * anything; stored metadata written back out through the generator; and
 * the RFC 3339 times of request bodies.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_admin.h"


#define NGX_HTTP_APIM_INT64_MAX  0x7fffffffffffffffLL


typedef struct {
    ngx_pool_t               *pool;
    ngx_http_apim_json_t     *root;
    ngx_http_apim_json_t     *cur;         /* the open array or object */
    ngx_str_t                 key;         /* the pending member name */
    ngx_str_t                 field;       /* the top-level member */
    ngx_uint_t                depth;
    ngx_str_t                *err;
    unsigned                  bad_utf8:1;
} ngx_http_apim_json_ctx_t;


static ngx_http_apim_json_t *ngx_http_apim_json_add(
    ngx_http_apim_json_ctx_t *ctx, ngx_http_apim_json_type_e type);
static int ngx_http_apim_json_on_null(void *data);
static int ngx_http_apim_json_on_bool(void *data, int b);
static int ngx_http_apim_json_on_number(void *data, const char *s,
    size_t len);
static int ngx_http_apim_json_on_string(void *data, const unsigned char *s,
    size_t len);
static int ngx_http_apim_json_on_start(void *data);
static int ngx_http_apim_json_on_start_array(void *data);
static int ngx_http_apim_json_open(ngx_http_apim_json_ctx_t *ctx,
    ngx_http_apim_json_type_e type);
static int ngx_http_apim_json_on_key(void *data, const unsigned char *s,
    size_t len);
static int ngx_http_apim_json_on_end(void *data);
static ngx_uint_t ngx_http_apim_json_utf8(const u_char *p, size_t len);


static yajl_callbacks  ngx_http_apim_json_callbacks = {
    ngx_http_apim_json_on_null,
    ngx_http_apim_json_on_bool,
    NULL,
    NULL,
    ngx_http_apim_json_on_number,
    ngx_http_apim_json_on_string,
    ngx_http_apim_json_on_start,
    ngx_http_apim_json_on_key,
    ngx_http_apim_json_on_end,
    ngx_http_apim_json_on_start_array,
    ngx_http_apim_json_on_end
};


static const char  *ngx_http_apim_json_type_names[] = {
    "null", "a boolean", "an integer", "a number", "a string", "an array",
    "an object"
};


/*
 * NGX_OK with the tree; NGX_DECLINED with a reason in err (the body is not
 * JSON, or nests too deep); NGX_ERROR when memory ran out.
 */

ngx_int_t
ngx_http_apim_json_parse(ngx_pool_t *pool, u_char *text, size_t len,
    ngx_http_apim_json_t **root, ngx_str_t *err)
{
    u_char                    *msg, *p;
    yajl_handle                h;
    yajl_status                rc;
    yajl_alloc_funcs          *af;
    ngx_http_apim_json_ctx_t   ctx;

    ngx_memzero(&ctx, sizeof(ngx_http_apim_json_ctx_t));
    ctx.pool = pool;
    ctx.err = err;

    err->len = 0;

    af = ngx_http_apim_json_alloc(pool);
    if (af == NULL) {
        return NGX_ERROR;
    }

    h = yajl_alloc(&ngx_http_apim_json_callbacks, af, &ctx);
    if (h == NULL) {
        return NGX_ERROR;
    }

    rc = yajl_parse(h, text, len);

    if (rc == yajl_status_ok) {
        rc = yajl_complete_parse(h);
    }

    if (rc == yajl_status_ok) {
        yajl_free(h);
        *root = ctx.root;
        return NGX_OK;
    }

    if (err->len == 0) {
        msg = ctx.bad_utf8
              ? (u_char *) "lexical error: invalid bytes in UTF8 string"
              : yajl_get_error(h, 0, text, len);

        if (msg == NULL) {
            yajl_free(h);
            return NGX_ERROR;
        }

        /* "lexical error: invalid char in json text.\n" */

        p = msg + ngx_strlen(msg);

        while (p > msg && (p[-1] == '\n' || p[-1] == '.' || p[-1] == ' ')) {
            p--;
        }

        err->len = sizeof("the body is not valid JSON at field \"\": ") - 1
                   + ctx.field.len + (p - msg);
        err->data = ngx_pnalloc(pool, err->len);
        if (err->data == NULL) {
            yajl_free(h);
            return NGX_ERROR;
        }

        if (ctx.field.len) {
            err->len = ngx_sprintf(err->data, "the body is not valid JSON at "
                                   "field \"%V\": %*s", &ctx.field,
                                   (size_t) (p - msg), msg)
                       - err->data;

        } else {
            err->len = ngx_sprintf(err->data, "the body is not valid JSON: "
                                   "%*s", (size_t) (p - msg), msg)
                       - err->data;
        }
    }

    yajl_free(h);

    return (err->len) ? NGX_DECLINED : NGX_ERROR;
}


static ngx_http_apim_json_t *
ngx_http_apim_json_add(ngx_http_apim_json_ctx_t *ctx,
    ngx_http_apim_json_type_e type)
{
    ngx_http_apim_json_t  *v;

    v = ngx_pcalloc(ctx->pool, sizeof(ngx_http_apim_json_t));
    if (v == NULL) {
        return NULL;
    }

    v->type = type;

    if (ctx->cur == NULL) {
        ctx->root = v;
        return v;
    }

    if (ctx->cur->type == NGX_HTTP_APIM_JSON_OBJECT) {
        v->name = ctx->key;
        ngx_str_null(&ctx->key);
    }

    v->parent = ctx->cur;

    if (ctx->cur->last) {
        ctx->cur->last->next = v;

    } else {
        ctx->cur->child = v;
    }

    ctx->cur->last = v;

    return v;
}


static int
ngx_http_apim_json_on_null(void *data)
{
    return ngx_http_apim_json_add(data, NGX_HTTP_APIM_JSON_NULL) != NULL;
}


static int
ngx_http_apim_json_on_bool(void *data, int b)
{
    ngx_http_apim_json_t  *v;

    v = ngx_http_apim_json_add(data, NGX_HTTP_APIM_JSON_BOOL);
    if (v == NULL) {
        return 0;
    }

    v->num = b ? 1 : 0;

    return 1;
}


/* an integer that fits int64_t is INT; anything else is NUMBER */

static int
ngx_http_apim_json_on_number(void *data, const char *s, size_t len)
{
    size_t                 i;
    int64_t                n, d;
    ngx_uint_t             neg;
    ngx_http_apim_json_t  *v;

    v = ngx_http_apim_json_add(data, NGX_HTTP_APIM_JSON_INT);
    if (v == NULL) {
        return 0;
    }

    v->str.data = ngx_pnalloc(((ngx_http_apim_json_ctx_t *) data)->pool, len);
    if (v->str.data == NULL) {
        return 0;
    }

    ngx_memcpy(v->str.data, s, len);
    v->str.len = len;

    neg = (len && s[0] == '-');
    n = 0;

    for (i = neg; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            v->type = NGX_HTTP_APIM_JSON_NUMBER;
            return 1;
        }

        d = s[i] - '0';

        if (n > (NGX_HTTP_APIM_INT64_MAX - d) / 10) {
            v->type = NGX_HTTP_APIM_JSON_NUMBER;
            return 1;
        }

        n = n * 10 + d;
    }

    v->num = neg ? -n : n;

    return 1;
}


static int
ngx_http_apim_json_on_string(void *data, const unsigned char *s, size_t len)
{
    ngx_http_apim_json_t      *v;
    ngx_http_apim_json_ctx_t  *ctx = data;

    if (!ngx_http_apim_json_utf8(s, len)) {
        ctx->bad_utf8 = 1;
        return 0;
    }

    v = ngx_http_apim_json_add(ctx, NGX_HTTP_APIM_JSON_STRING);
    if (v == NULL) {
        return 0;
    }

    v->str.len = len;
    v->str.data = ngx_pnalloc(ctx->pool, len + 1);
    if (v->str.data == NULL) {
        return 0;
    }

    ngx_memcpy(v->str.data, s, len);
    v->str.data[len] = '\0';

    return 1;
}


static int
ngx_http_apim_json_on_start(void *data)
{
    return ngx_http_apim_json_open(data, NGX_HTTP_APIM_JSON_OBJECT);
}


static int
ngx_http_apim_json_on_start_array(void *data)
{
    return ngx_http_apim_json_open(data, NGX_HTTP_APIM_JSON_ARRAY);
}


/* an object or an array begins: values go into it until it ends */

static int
ngx_http_apim_json_open(ngx_http_apim_json_ctx_t *ctx,
    ngx_http_apim_json_type_e type)
{
    ngx_http_apim_json_t  *v;

    if (++ctx->depth > NGX_HTTP_APIM_ADMIN_DEPTH) {
        ngx_str_set(ctx->err, "the body nests objects and arrays deeper "
                              "than 16 levels");
        return 0;
    }

    v = ngx_http_apim_json_add(ctx, type);
    if (v == NULL) {
        return 0;
    }

    ctx->cur = v;

    return 1;
}


static int
ngx_http_apim_json_on_key(void *data, const unsigned char *s, size_t len)
{
    ngx_http_apim_json_ctx_t  *ctx = data;

    if (!ngx_http_apim_json_utf8(s, len)) {
        ctx->bad_utf8 = 1;
        return 0;
    }

    ctx->key.data = ngx_pnalloc(ctx->pool, len + 1);
    if (ctx->key.data == NULL) {
        return 0;
    }

    ngx_memcpy(ctx->key.data, s, len);
    ctx->key.data[len] = '\0';
    ctx->key.len = len;

    if (ctx->depth == 1) {
        ctx->field = ctx->key;
    }

    return 1;
}


static int
ngx_http_apim_json_on_end(void *data)
{
    ngx_http_apim_json_ctx_t  *ctx = data;

    ctx->depth--;
    ctx->cur = ctx->cur->parent;

    return 1;
}


/*
 * yajl checks the form of UTF-8 sequences only; RFC 3629 also excludes
 * overlong forms, surrogates and code points above U+10FFFF
 */

static ngx_uint_t
ngx_http_apim_json_utf8(const u_char *p, size_t len)
{
    u_char       c;
    uint32_t     u, min;
    ngx_uint_t   n, i;

    while (len) {
        c = *p++;
        len--;

        if (c < 0x80) {
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            u = c & 0x1f;
            min = 0x80;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            u = c & 0x0f;
            min = 0x800;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            u = c & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (len < n) {
            return 0;
        }

        for (i = 0; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }

            u = (u << 6) | (p[i] & 0x3f);
        }

        if (u < min || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
            return 0;
        }

        p += n;
        len -= n;
    }

    return 1;
}


/* a parsed value back out through a generator */

ngx_int_t
ngx_http_apim_json_gen_value(yajl_gen g, ngx_http_apim_json_t *v)
{
    yajl_gen_status        rc;
    ngx_http_apim_json_t  *c;

    switch (v->type) {

    case NGX_HTTP_APIM_JSON_NULL:
        rc = yajl_gen_null(g);
        break;

    case NGX_HTTP_APIM_JSON_BOOL:
        rc = yajl_gen_bool(g, (int) v->num);
        break;

    case NGX_HTTP_APIM_JSON_INT:
    case NGX_HTTP_APIM_JSON_NUMBER:
        rc = yajl_gen_number(g, (const char *) v->str.data, v->str.len);
        break;

    case NGX_HTTP_APIM_JSON_STRING:
        rc = yajl_gen_string(g, v->str.data, v->str.len);
        break;

    case NGX_HTTP_APIM_JSON_ARRAY:
        if (yajl_gen_array_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        for (c = v->child; c; c = c->next) {
            if (ngx_http_apim_json_gen_value(g, c) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        rc = yajl_gen_array_close(g);
        break;

    default: /* NGX_HTTP_APIM_JSON_OBJECT */
        if (yajl_gen_map_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        for (c = v->child; c; c = c->next) {
            if (yajl_gen_string(g, c->name.data, c->name.len)
                != yajl_gen_status_ok
                || ngx_http_apim_json_gen_value(g, c) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        rc = yajl_gen_map_close(g);
        break;
    }

    return (rc == yajl_gen_status_ok) ? NGX_OK : NGX_ERROR;
}


/* a value as compact JSON text, as records store metadata */

ngx_int_t
ngx_http_apim_json_text(ngx_pool_t *pool, ngx_http_apim_json_t *v,
    ngx_str_t *text)
{
    size_t                len;
    yajl_gen              g;
    const unsigned char  *buf;

    g = ngx_http_apim_json_gen(pool);
    if (g == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_apim_json_gen_value(g, v) != NGX_OK
        || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    text->data = ngx_pnalloc(pool, len);
    if (text->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(text->data, buf, len);
    text->len = len;

    return NGX_OK;
}


/* stored metadata text as a value: {} when there is none or it is damaged */

ngx_int_t
ngx_http_apim_json_metadata(yajl_gen g, ngx_pool_t *pool,
    const ngx_apim_str_t *text)
{
    u_char                *copy;
    ngx_str_t              err;
    ngx_http_apim_json_t  *v;

    if (text->len) {
        copy = ngx_pnalloc(pool, text->len);
        if (copy == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(copy, text->data, text->len);

        if (ngx_http_apim_json_parse(pool, copy, text->len, &v, &err)
            == NGX_OK
            && v->type == NGX_HTTP_APIM_JSON_OBJECT)
        {
            return ngx_http_apim_json_gen_value(g, v);
        }
    }

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * An RFC 3339 time of a request body, read as the catalogue reads its
 * dates; 0 (1970-01-01T00:00:00Z) would mean "none" in a record.
 */

ngx_int_t
ngx_http_apim_admin_time(ngx_str_t *s, int64_t *t)
{
    time_t  v;

    if (ngx_http_apim_time_parse(s->data, s->len, &v) != NGX_OK || v <= 0) {
        return NGX_ERROR;
    }

    *t = v;

    return NGX_OK;
}


const char *
ngx_http_apim_json_type_name(ngx_http_apim_json_type_e type)
{
    return ngx_http_apim_json_type_names[type];
}
