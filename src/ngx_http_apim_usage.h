
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_USAGE_H_INCLUDED_
#define _NGX_HTTP_APIM_USAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_apim_limit.h"
#include "ngx_http_apim_lookup.h"


ngx_int_t ngx_http_apim_usage_send(ngx_http_request_t *r,
    ngx_shm_zone_t *zone, ngx_http_apim_lookup_t *lk);
ngx_int_t ngx_http_apim_usage_json(yajl_gen g, ngx_str_t *key_id,
    ngx_str_t *consumer, ngx_http_apim_plan_t *plan,
    ngx_http_apim_limit_result_t *res);


#endif /* _NGX_HTTP_APIM_USAGE_H_INCLUDED_ */
