
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The admin API (apim_admin): its directives, the bearer token check, the
 * routing of a path relative to the location to the file that answers it,
 * reading and parsing the request body, and what every answer shares:
 * problem bodies, JSON responses, paging arguments, the change log.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/crypto.h>

#include "ngx_http_apim_admin.h"
#include "ngx_http_apim_analytics.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_apim_headers.h"


#define NGX_HTTP_APIM_ADMIN_TOKEN_MAX  4096


typedef struct {
    ngx_str_t                     path;        /* "*" is one segment */
    ngx_uint_t                    method;      /* GET routes answer HEAD */
    ngx_http_apim_admin_pt        handler;
    ngx_http_handler_pt           plain;       /* or a handler of r alone */
} ngx_http_apim_admin_route_t;


static ngx_int_t ngx_http_apim_admin_authorized(ngx_http_request_t *r,
    ngx_http_apim_admin_conf_t *acf);
static ngx_int_t ngx_http_apim_admin_unauthorized(ngx_http_request_t *r,
    ngx_uint_t sent);
static ngx_int_t ngx_http_apim_admin_route(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_str_t *path);
static ngx_uint_t ngx_http_apim_admin_match(ngx_str_t *pattern,
    ngx_str_t *path, ngx_str_t *args);
static ngx_int_t ngx_http_apim_admin_not_allowed(ngx_http_request_t *r,
    ngx_uint_t methods);
static ngx_int_t ngx_http_apim_admin_json_type(ngx_http_request_t *r);
static void ngx_http_apim_admin_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_admin_body(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
static ngx_int_t ngx_http_apim_admin_run(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
static void ngx_http_apim_admin_ctx_marker(void *data);


/*
 * The endpoints, relative to the location.  A new one is a line here,
 * with a handler of (r, ctx) or, as "plain", of r alone.
 */

static ngx_http_apim_admin_route_t  ngx_http_apim_admin_routes[] = {

    { ngx_string("consumers"), NGX_HTTP_GET,
      ngx_http_apim_admin_consumer_list, NULL },
    { ngx_string("consumers"), NGX_HTTP_POST,
      ngx_http_apim_admin_consumer_create, NULL },
    { ngx_string("consumers/*"), NGX_HTTP_GET,
      ngx_http_apim_admin_consumer_get, NULL },
    { ngx_string("consumers/*"), NGX_HTTP_PATCH,
      ngx_http_apim_admin_consumer_patch, NULL },
    { ngx_string("consumers/*"), NGX_HTTP_DELETE,
      ngx_http_apim_admin_consumer_delete, NULL },

    { ngx_string("keys"), NGX_HTTP_GET,
      ngx_http_apim_admin_key_list, NULL },
    { ngx_string("keys"), NGX_HTTP_POST,
      ngx_http_apim_admin_key_create, NULL },
    { ngx_string("keys/*"), NGX_HTTP_GET,
      ngx_http_apim_admin_key_get, NULL },
    { ngx_string("keys/*"), NGX_HTTP_PATCH,
      ngx_http_apim_admin_key_patch, NULL },
    { ngx_string("keys/*"), NGX_HTTP_DELETE,
      ngx_http_apim_admin_key_delete, NULL },
    { ngx_string("keys/*/rotate"), NGX_HTTP_POST,
      ngx_http_apim_admin_key_rotate, NULL },
    { ngx_string("keys/*/usage"), NGX_HTTP_GET,
      ngx_http_apim_admin_usage_get, NULL },
    { ngx_string("keys/*/usage"), NGX_HTTP_DELETE,
      ngx_http_apim_admin_usage_reset, NULL },

    { ngx_string("plans"), NGX_HTTP_GET,
      ngx_http_apim_admin_plan_list, NULL },
    { ngx_string("plans/*"), NGX_HTTP_GET,
      ngx_http_apim_admin_plan_get, NULL },

    { ngx_string("status"), NGX_HTTP_GET,
      ngx_http_apim_admin_status, NULL },

    { ngx_string("analytics"), NGX_HTTP_GET,
      NULL, ngx_http_apim_analytics_get },

    { ngx_null_string, 0, NULL, NULL }
};


static ngx_str_t  ngx_http_apim_admin_json = ngx_string("application/json");


/* apim_admin [unprotected] */

char *
ngx_http_apim_admin_set(ngx_conf_t *cf, ngx_http_apim_admin_conf_t **cp,
    ngx_http_apim_store_conf_t *store, ngx_apim_hmac_t *hmac,
    ngx_array_t *plans, ngx_shm_zone_t **zone)
{
    ngx_str_t                   *value;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_apim_admin_conf_t  *acf;

    if (*cp) {
        return "is duplicate";
    }

    value = cf->args->elts;

    acf = ngx_pcalloc(cf->pool, sizeof(ngx_http_apim_admin_conf_t));
    if (acf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2) {
        if (value[1].len != 11
            || ngx_strncmp(value[1].data, "unprotected", 11) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", it must be "
                               "\"unprotected\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        acf->unprotected = 1;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* paths are relative to the location's prefix: it must have one */

    if (clcf->named
#if (NGX_PCRE)
        || clcf->regex
#endif
       )
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"apim_admin\" cannot be used in the named or "
                           "regex location \"%V\"", &clcf->name);
        return NGX_CONF_ERROR;
    }

    acf->store = store;
    acf->hmac = hmac;
    acf->plans = plans;
    acf->zone = zone;
    acf->clcf = clcf;
    acf->file = cf->conf_file->file.name.data;
    acf->line = cf->conf_file->line;

    *cp = acf;

    return NGX_CONF_OK;
}


/*
 * apim_admin_token <file>: read once, at configuration time; only its
 * SHA-256 is kept, and requests are compared with it in constant time.
 */

char *
ngx_http_apim_admin_token_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char                        buf[NGX_HTTP_APIM_ADMIN_TOKEN_MAX + 1];
    size_t                        n, i;
    ssize_t                       rc;
    ngx_fd_t                      fd;
    ngx_str_t                    *value, file;
    ngx_http_apim_admin_token_t  *token, **tp;

    tp = (ngx_http_apim_admin_token_t **) (p + cmd->offset);

    if (*tp != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "apim_admin_token \"%V\": cannot open the file",
                           &file);
        return NGX_CONF_ERROR;
    }

    n = 0;

    while (n < sizeof(buf)) {
        rc = ngx_read_fd(fd, buf + n, sizeof(buf) - n);

        if (rc == -1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "apim_admin_token \"%V\": cannot read the "
                               "file", &file);
            (void) ngx_close_file(fd);
            OPENSSL_cleanse(buf, sizeof(buf));
            return NGX_CONF_ERROR;
        }

        if (rc == 0) {
            break;
        }

        n += rc;
    }

    (void) ngx_close_file(fd);

    /* an editor's trailing newline is not part of the token */

    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'
                 || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    {
        n--;
    }

    if (n > NGX_HTTP_APIM_ADMIN_TOKEN_MAX) {
        OPENSSL_cleanse(buf, sizeof(buf));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apim_admin_token \"%V\": the token is longer "
                           "than 4096 bytes", &file);
        return NGX_CONF_ERROR;
    }

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apim_admin_token \"%V\": the file is empty",
                           &file);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (buf[i] < 0x21 || buf[i] > 0x7e) {
            OPENSSL_cleanse(buf, sizeof(buf));
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "apim_admin_token \"%V\": the token must be "
                               "printable ASCII without spaces", &file);
            return NGX_CONF_ERROR;
        }
    }

    token = ngx_pcalloc(cf->pool, sizeof(ngx_http_apim_admin_token_t));
    if (token == NULL) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return NGX_CONF_ERROR;
    }

    SHA256(buf, n, token->digest);
    OPENSSL_cleanse(buf, sizeof(buf));

    token->file = file;
    *tp = token;

    return NGX_CONF_OK;
}


/*
 * Once the location's directives are merged: a token, unless the operator
 * wrote "unprotected"; and bodies up to apim_admin_body_max kept in memory.
 */

char *
ngx_http_apim_admin_merge(ngx_conf_t *cf, ngx_http_apim_admin_conf_t *acf,
    ngx_http_apim_admin_token_t *token, size_t body_max)
{
    if (token == NULL && !acf->unprotected) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"apim_admin\" needs \"apim_admin_token\"; write "
                      "\"apim_admin unprotected;\" to run it without one "
                      "in %s:%ui", acf->file, acf->line);
        return NGX_CONF_ERROR;
    }

    acf->token = token;
    acf->body_max = body_max;

    if (acf->clcf->client_body_buffer_size < body_max) {
        acf->clcf->client_body_buffer_size = body_max;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_apim_admin_handler(ngx_http_request_t *r,
    ngx_http_apim_admin_conf_t *acf)
{
    ngx_int_t                   rc;
    ngx_str_t                   path;
    ngx_pool_cleanup_t         *cln;
    ngx_http_apim_admin_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_apim_admin_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->conf = acf;

    rc = ngx_http_apim_admin_authorized(r, acf);

    if (rc != NGX_OK) {
        return ngx_http_apim_admin_unauthorized(r, rc == NGX_DECLINED);
    }

    path.data = r->uri.data + acf->clcf->name.len;
    path.len = (r->uri.len > acf->clcf->name.len)
               ? r->uri.len - acf->clcf->name.len : 0;

    while (path.len && path.data[0] == '/') {
        path.data++;
        path.len--;
    }

    rc = ngx_http_apim_admin_route(r, ctx, &path);

    if (ctx->handler == NULL && ctx->plain == NULL) {
        /* the 404 or 405 is sent */
        return rc;
    }

    if (!(r->method & (NGX_HTTP_POST|NGX_HTTP_PATCH))) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_apim_admin_run(r, ctx);
    }

    if (r->headers_in.content_length_n > (off_t) acf->body_max) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "the body is larger than %uz bytes",
                                         acf->body_max);
    }

    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        return ngx_http_apim_admin_run(r, ctx);
    }

    if (ngx_http_apim_admin_json_type(r) != NGX_OK) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         "the body must be application/json");
    }

    /* the body handler finds the context through this marker */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_apim_admin_ctx_marker;
    cln->data = ctx;

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_apim_admin_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * NGX_OK: no token is configured, or the right one was sent;
 * NGX_DECLINED: none was sent; NGX_ERROR: another one was.  Only
 * SHA-256 digests are compared, in constant time, so that neither the
 * token's length nor its bytes leak through timing.
 */

static ngx_int_t
ngx_http_apim_admin_authorized(ngx_http_request_t *r,
    ngx_http_apim_admin_conf_t *acf)
{
    u_char     *p, *last;
    u_char      digest[SHA256_DIGEST_LENGTH];
    ngx_str_t  *v;

    if (acf->token == NULL) {
        return NGX_OK;
    }

    if (r->headers_in.authorization == NULL) {
        return NGX_DECLINED;
    }

    v = &r->headers_in.authorization->value;

    if (v->len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(v->data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    p = v->data + sizeof("Bearer ") - 1;
    last = v->data + v->len;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    SHA256(p, last - p, digest);

    if (CRYPTO_memcmp(digest, acf->token->digest, SHA256_DIGEST_LENGTH)
        != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_admin_unauthorized(ngx_http_request_t *r, ngx_uint_t none)
{
    u_char  *value;
    size_t   len;

    if (none) {
        value = (u_char *) "Bearer";
        len = sizeof("Bearer") - 1;

    } else {
        value = (u_char *) "Bearer error=\"invalid_token\"";
        len = sizeof("Bearer error=\"invalid_token\"") - 1;

        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "apim admin: %V sent a wrong token",
                      &r->connection->addr_text);
    }

    r->headers_out.www_authenticate = ngx_http_apim_header_out(r,
                                                    "WWW-Authenticate",
                                                    value, len);
    if (r->headers_out.www_authenticate == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_error(r, NGX_HTTP_UNAUTHORIZED,
                                     none ? "the admin API needs "
                                            "\"Authorization: Bearer\" "
                                            "with its token"
                                          : "the admin token is wrong");
}


/* NGX_OK with ctx->handler set; else the 404 or 405 sent */

static ngx_int_t
ngx_http_apim_admin_route(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_str_t *path)
{
    ngx_uint_t                    methods, m;
    ngx_str_t                     args[NGX_HTTP_APIM_ADMIN_ARGS];
    ngx_http_apim_admin_route_t  *rt;

    methods = 0;
    m = (r->method == NGX_HTTP_HEAD) ? NGX_HTTP_GET : r->method;

    for (rt = ngx_http_apim_admin_routes; rt->path.len; rt++) {

        if (!ngx_http_apim_admin_match(&rt->path, path, args)) {
            continue;
        }

        methods |= rt->method;

        if (rt->method != m) {
            continue;
        }

        ngx_memcpy(ctx->args, args, sizeof(args));

        if (rt->plain) {
            ctx->plain = rt->plain;

        } else {
            ctx->handler = rt->handler;
        }

        return NGX_OK;
    }

    if (methods) {
        return ngx_http_apim_admin_not_allowed(r, methods);
    }

    return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                     "the admin API has no \"%V\"", path);
}


static ngx_uint_t
ngx_http_apim_admin_match(ngx_str_t *pattern, ngx_str_t *path,
    ngx_str_t *args)
{
    u_char      *p, *q, *pe, *qe;
    ngx_uint_t   n;

    p = pattern->data;
    pe = p + pattern->len;
    q = path->data;
    qe = q + path->len;
    n = 0;

    while (p < pe) {

        if (*p == '*') {
            args[n].data = q;

            while (q < qe && *q != '/') {
                q++;
            }

            args[n].len = q - args[n].data;

            /* names and ids are 1 to 64 of A-Z a-z 0-9 . _ - */

            if (!ngx_apim_name_valid((char *) args[n].data, args[n].len)) {
                return 0;
            }

            n++;
            p++;
            continue;
        }

        if (q == qe || *p != *q) {
            return 0;
        }

        p++;
        q++;
    }

    return q == qe;
}


static ngx_int_t
ngx_http_apim_admin_not_allowed(ngx_http_request_t *r, ngx_uint_t methods)
{
    u_char  *p, *start;

    start = ngx_pnalloc(r->pool, sizeof("GET, HEAD, POST, PATCH, DELETE"));
    if (start == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = start;

    if (methods & NGX_HTTP_GET) {
        p = ngx_cpymem(p, ", GET, HEAD", sizeof(", GET, HEAD") - 1);
    }

    if (methods & NGX_HTTP_POST) {
        p = ngx_cpymem(p, ", POST", sizeof(", POST") - 1);
    }

    if (methods & NGX_HTTP_PATCH) {
        p = ngx_cpymem(p, ", PATCH", sizeof(", PATCH") - 1);
    }

    if (methods & NGX_HTTP_DELETE) {
        p = ngx_cpymem(p, ", DELETE", sizeof(", DELETE") - 1);
    }

    if (ngx_http_apim_header_out(r, "Allow", start + 2, p - start - 2)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_ALLOWED,
                                     "\"%V\" answers %*s", &r->uri,
                                     (size_t) (p - start - 2), start + 2);
}


/* application/json, or any application/...+json, with parameters */

static ngx_int_t
ngx_http_apim_admin_json_type(ngx_http_request_t *r)
{
    u_char     *p, *last;
    ngx_str_t  *v;

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    v = &r->headers_in.content_type->value;

    p = v->data;
    last = ngx_strlchr(p, v->data + v->len, ';');

    if (last == NULL) {
        last = v->data + v->len;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    if (last - p == 16 && ngx_strncasecmp(p, (u_char *) "application/json", 16)
                          == 0)
    {
        return NGX_OK;
    }

    if (last - p > 17
        && ngx_strncasecmp(p, (u_char *) "application/", 12) == 0
        && ngx_strncasecmp(last - 5, (u_char *) "+json", 5) == 0)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static void
ngx_http_apim_admin_body_handler(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_apim_admin_ctx_t  *ctx;

    ctx = NULL;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_apim_admin_ctx_marker) {
            ctx = cln->data;
            break;
        }
    }

    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_apim_admin_body(r, ctx));
}


static ngx_int_t
ngx_http_apim_admin_body(ngx_http_request_t *r, ngx_http_apim_admin_ctx_t *ctx)
{
    u_char       *text, *p;
    off_t         size;
    ssize_t       n;
    ngx_int_t     rc;
    ngx_str_t     err;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return ngx_http_apim_admin_run(r, ctx);
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    if (size > (off_t) ctx->conf->body_max) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "the body is larger than %uz bytes",
                                         ctx->conf->body_max);
    }

    if (size == 0) {
        return ngx_http_apim_admin_run(r, ctx);
    }

    text = ngx_pnalloc(r->pool, (size_t) size);
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = text;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            /* client_body_in_file_only: a small file, read once */

            n = ngx_read_file(b->file, p, (size_t) (b->file_last
                                                    - b->file_pos),
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    rc = ngx_http_apim_json_parse(r->pool, text, p - text, &ctx->body, &err);

    if (rc == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V", &err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_run(r, ctx);
}


static ngx_int_t
ngx_http_apim_admin_run(ngx_http_request_t *r, ngx_http_apim_admin_ctx_t *ctx)
{
    if (ctx->plain) {
        return ctx->plain(r);
    }

    return ctx->handler(r, ctx);
}


static void
ngx_http_apim_admin_ctx_marker(void *data)
{
    /* nothing to free: the context lives in the request pool */
}


/*
 * Checks a body against the members an endpoint takes: NGX_OK with
 * values[i] set for fields[i] (NULL when absent); NGX_DECLINED with the
 * detail naming the field; NGX_ERROR.  No body is an empty object.
 */

ngx_int_t
ngx_http_apim_admin_fields(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_http_apim_admin_field_t *fields,
    ngx_http_apim_json_t **values, ngx_str_t *detail)
{
    u_char                *p;
    ngx_uint_t             i;
    ngx_http_apim_json_t  *v;

    for (i = 0; fields[i].name; i++) {
        values[i] = NULL;
    }

    if (ctx->body == NULL) {
        return NGX_OK;
    }

    if (ctx->body->type != NGX_HTTP_APIM_JSON_OBJECT) {
        ngx_str_set(detail, "the body must be a JSON object");
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, 256 + 64);
    if (p == NULL) {
        return NGX_ERROR;
    }

    detail->data = p;

    for (v = ctx->body->child; v; v = v->next) {

        for (i = 0; fields[i].name; i++) {
            if (v->name.len == ngx_strlen(fields[i].name)
                && ngx_strncmp(v->name.data, fields[i].name, v->name.len)
                   == 0)
            {
                break;
            }
        }

        if (fields[i].name == NULL) {
            detail->len = ngx_snprintf(p, 256 + 64, "unknown field \"%*s\"",
                                       ngx_min(v->name.len, 256),
                                       v->name.data)
                          - p;
            return NGX_DECLINED;
        }

        if (values[i]) {
            detail->len = ngx_snprintf(p, 256 + 64, "the field \"%s\" is "
                                       "given twice", fields[i].name)
                          - p;
            return NGX_DECLINED;
        }

        if (!(fields[i].types & (1 << v->type))) {
            detail->len = ngx_snprintf(p, 256 + 64, "\"%s\" must not be %s",
                                       fields[i].name,
                                       ngx_http_apim_json_type_name(v->type))
                          - p;
            return NGX_DECLINED;
        }

        values[i] = v;
    }

    return NGX_OK;
}


/* a query argument, %-decoded */

ngx_int_t
ngx_http_apim_admin_arg(ngx_http_request_t *r, char *name, size_t len,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, len, &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, raw.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    value->data = dst;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);

    value->len = dst - value->data;

    return NGX_OK;
}


/* a problem body; the detail is formatted like ngx_sprintf() */

ngx_int_t
ngx_http_apim_admin_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *fmt, ...)
{
    u_char                   *p;
    va_list                   args;
    ngx_http_apim_problem_t   pr;

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    pr.status = status;

    switch (status) {

    case NGX_HTTP_BAD_REQUEST:
        ngx_str_set(&pr.title, "Bad Request");
        break;

    case NGX_HTTP_UNAUTHORIZED:
        ngx_str_set(&pr.title, "Unauthorized");
        break;

    case NGX_HTTP_NOT_FOUND:
        ngx_str_set(&pr.title, "Not Found");
        break;

    case NGX_HTTP_NOT_ALLOWED:
        ngx_str_set(&pr.title, "Method Not Allowed");
        break;

    case NGX_HTTP_CONFLICT:
        ngx_str_set(&pr.title, "Conflict");
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_str_set(&pr.title, "Content Too Large");
        break;

    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
        ngx_str_set(&pr.title, "Unsupported Media Type");
        break;

    default:
        ngx_str_set(&pr.title, "Service Unavailable");
        break;
    }

    p = ngx_pnalloc(r->pool, 512);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    va_start(args, fmt);
    pr.detail.len = ngx_vslprintf(p, p + 512, fmt, args) - p;
    va_end(args);

    pr.detail.data = p;

    return ngx_http_apim_problem_send(r, &pr);
}


/* a store error: 503, logged once until the store works again */

ngx_int_t
ngx_http_apim_admin_store_error(ngx_http_request_t *r, ngx_apim_store_t *st)
{
    if (st == NULL) {
        return ngx_http_apim_problem_store(r);
    }

    ngx_http_apim_store_error(r->connection->log, st);

    if (st->mdb_rc == MDB_MAP_FULL) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "the store is full: raise "
                                         "apim_store size=, or delete keys "
                                         "and consumers");
    }

    return ngx_http_apim_problem_store(r);
}


ngx_int_t
ngx_http_apim_admin_send(ngx_http_request_t *r, ngx_uint_t status,
    yajl_gen g)
{
    ngx_buf_t  *b;

    if (ngx_http_apim_json_buf(g, r->pool, &b) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_json_send(r, status, &ngx_http_apim_admin_json, b);
}


ngx_int_t
ngx_http_apim_admin_no_content(ngx_http_request_t *r)
{
    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* every change, at notice level: who, what, which (never a key) */

void
ngx_http_apim_admin_log(ngx_http_request_t *r, const char *action,
    ngx_str_t *name)
{
    ngx_http_apim_store_ok();

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "apim admin: %V %s \"%V\"", &r->connection->addr_text,
                  action, name);
}
