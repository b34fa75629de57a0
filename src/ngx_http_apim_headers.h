
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_HEADERS_H_INCLUDED_
#define _NGX_HTTP_APIM_HEADERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_plan.h"


#define NGX_HTTP_APIM_HEADERS_OFF      0
#define NGX_HTTP_APIM_HEADERS_IETF     1
#define NGX_HTTP_APIM_HEADERS_LEGACY   2


ngx_int_t ngx_http_apim_headers_set(ngx_http_request_t *r, ngx_uint_t mode,
    ngx_http_apim_plan_t *plan, ngx_http_apim_limit_result_t *res);
ngx_table_elt_t *ngx_http_apim_header_out(ngx_http_request_t *r, char *key,
    u_char *value, size_t len);


#endif /* _NGX_HTTP_APIM_HEADERS_H_INCLUDED_ */
