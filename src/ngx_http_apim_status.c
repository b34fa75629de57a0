
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The store's status as JSON: where it is, how full, how many records in
 * each sub-database, and which versions wrote and read it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_store.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_json.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_status.h"


static ngx_str_t  ngx_http_apim_json_type = ngx_string("application/json");


static ngx_int_t ngx_http_apim_status_json(ngx_http_request_t *r,
    yajl_gen g, ngx_apim_store_t *st, ngx_str_t *path, size_t max_size);


ngx_int_t
ngx_http_apim_status_send(ngx_http_request_t *r, ngx_str_t *path,
    size_t max_size)
{
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    yajl_gen                  g;
    ngx_apim_store_t         *st;

    rc = ngx_http_apim_problem_method(r, "The status endpoint answers GET "
                                         "and HEAD.");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    st = ngx_http_apim_store();

    if (st == NULL || ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        if (st) {
            ngx_http_apim_store_error(r->connection->log, st);
        }

        return ngx_http_apim_problem_store(r);
    }

    g = ngx_http_apim_json_gen(r->pool);

    if (g == NULL) {
        rc = NGX_ERROR;

    } else {
        rc = ngx_http_apim_status_json(r, g, st, path, max_size);
    }

    ngx_apim_store_read_end(st);

    if (rc == NGX_DECLINED) {
        ngx_http_apim_store_error(r->connection->log, st);
        return ngx_http_apim_problem_store(r);
    }

    if (rc != NGX_OK || ngx_http_apim_json_buf(g, r->pool, &b) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_json_send(r, NGX_HTTP_OK, &ngx_http_apim_json_type,
                                   b);
}


/* NGX_DECLINED: the store failed; NGX_ERROR: the generator did */

static ngx_int_t
ngx_http_apim_status_json(ngx_http_request_t *r, yajl_gen g,
    ngx_apim_store_t *st, ngx_str_t *path, size_t max_size)
{
    size_t      n;
    ngx_str_t   s;
    ngx_uint_t  i;

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "store") != NGX_OK
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_str(g, "path", path) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&s, NGX_APIM_STORE_SCHEMA);

    if (ngx_http_apim_json_str(g, "schema", &s) != NGX_OK
        || ngx_http_apim_json_int(g, "size", max_size) != NGX_OK
        || ngx_http_apim_json_int(g, "map_bytes", st->map_size) != NGX_OK
        || ngx_http_apim_json_int(g, "used_bytes", ngx_apim_store_used(st))
           != NGX_OK
        || ngx_http_apim_json_key(g, "records") != NGX_OK
        || yajl_gen_map_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    for (i = NGX_APIM_DB_CONSUMERS; i < NGX_APIM_DB_COUNT; i++) {
        if (ngx_apim_store_stat(st, i, &n) != NGX_APIM_STORE_OK) {
            return NGX_DECLINED;
        }

        if (ngx_http_apim_json_int(g, ngx_apim_store_db_name(i), n)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (yajl_gen_map_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&s, NGINX_VERSION);

    if (ngx_http_apim_json_str(g, "nginx_version", &s) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&s, NGX_APIM_VERSION);

    if (ngx_http_apim_json_str(g, "module_version", &s) != NGX_OK
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
