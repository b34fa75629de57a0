
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_CREDENTIAL_H_INCLUDED_
#define _NGX_HTTP_APIM_CREDENTIAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_APIM_SOURCE_HEADER   0
#define NGX_HTTP_APIM_SOURCE_BEARER   1    /* Authorization: Bearer <key> */
#define NGX_HTTP_APIM_SOURCE_QUERY    2
#define NGX_HTTP_APIM_SOURCE_COOKIE   3


typedef struct {
    ngx_uint_t     type;
    ngx_str_t      name;
} ngx_http_apim_source_t;


ngx_int_t ngx_http_apim_credential_find(ngx_http_request_t *r,
    ngx_array_t *sources, ngx_uint_t hide, ngx_str_t *key);


#endif /* _NGX_HTTP_APIM_CREDENTIAL_H_INCLUDED_ */
