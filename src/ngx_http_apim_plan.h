
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_PLAN_H_INCLUDED_
#define _NGX_HTTP_APIM_PLAN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_limit.h"


typedef struct {
    ngx_str_t                 name;
    ngx_http_apim_limit_t     limit;
    ngx_uint_t                rate_window; /* 1 (r/s) or 60 (r/m) */
    ngx_array_t              *apis;        /* of ngx_str_t; NULL: any */
    ngx_str_t                 policy;      /* RateLimit-Policy value */
    ngx_str_t                 text;        /* its arguments, as written */
} ngx_http_apim_plan_t;


char *ngx_http_apim_plan_parse(ngx_conf_t *cf, ngx_array_t *plans);
ngx_int_t ngx_http_apim_plan_text(ngx_pool_t *pool, ngx_array_t *plans,
    ngx_str_t *text);
ngx_http_apim_plan_t *ngx_http_apim_plan_find(ngx_array_t *plans,
    u_char *name, size_t len);
ngx_uint_t ngx_http_apim_api_listed(ngx_str_t *api, u_char *list,
    size_t len);
ngx_uint_t ngx_http_apim_api_allowed(ngx_str_t *api, ngx_array_t *apis);


#endif /* _NGX_HTTP_APIM_PLAN_H_INCLUDED_ */
