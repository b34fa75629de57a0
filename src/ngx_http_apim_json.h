
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_JSON_H_INCLUDED_
#define _NGX_HTTP_APIM_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>


yajl_alloc_funcs *ngx_http_apim_json_alloc(ngx_pool_t *pool);
yajl_gen ngx_http_apim_json_gen(ngx_pool_t *pool);
ngx_int_t ngx_http_apim_json_str(yajl_gen g, const char *name, ngx_str_t *s);
ngx_int_t ngx_http_apim_json_opt(yajl_gen g, const char *name, ngx_str_t *s);
ngx_int_t ngx_http_apim_json_int(yajl_gen g, const char *name, int64_t n);
ngx_int_t ngx_http_apim_json_key(yajl_gen g, const char *name);
ngx_int_t ngx_http_apim_json_buf(yajl_gen g, ngx_pool_t *pool, ngx_buf_t **b);
ngx_int_t ngx_http_apim_json_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);


#endif /* _NGX_HTTP_APIM_JSON_H_INCLUDED_ */
