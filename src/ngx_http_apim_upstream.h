
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_APIM_UPSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct {
    ngx_str_t     consumer_id;
    ngx_str_t     consumer_name;
    ngx_str_t     credential_id;
} ngx_http_apim_upstream_t;


void ngx_http_apim_upstream_init(void);
ngx_int_t ngx_http_apim_upstream_headers(ngx_http_request_t *r,
    ngx_http_apim_upstream_t *up);


#endif /* _NGX_HTTP_APIM_UPSTREAM_H_INCLUDED_ */
