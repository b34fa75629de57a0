
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_LOOKUP_H_INCLUDED_
#define _NGX_HTTP_APIM_LOOKUP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_key.h"
#include "ngx_http_apim_plan.h"


/* the verdicts on a request, the values of $apim_status */

#define NGX_HTTP_APIM_PASSED          0
#define NGX_HTTP_APIM_NO_KEY          1
#define NGX_HTTP_APIM_BAD_KEY         2
#define NGX_HTTP_APIM_EXPIRED         3
#define NGX_HTTP_APIM_FORBIDDEN       4
#define NGX_HTTP_APIM_RATE_LIMITED    5
#define NGX_HTTP_APIM_QUOTA_EXCEEDED  6
#define NGX_HTTP_APIM_STORE_ERROR     7


typedef struct {
    ngx_uint_t                status;      /* NGX_HTTP_APIM_* */
    char                     *detail;      /* why the key was refused */
    ngx_str_t                 key_id;
    ngx_str_t                 consumer;
    ngx_str_t                 consumer_id;
    ngx_str_t                 apis;        /* the key's own; empty: plan's */
    uint32_t                  usage_gen;   /* the key record's */
    ngx_http_apim_plan_t     *plan;
} ngx_http_apim_lookup_t;


ngx_int_t ngx_http_apim_lookup(ngx_http_request_t *r, ngx_apim_hmac_t *hmac,
    ngx_array_t *plans, ngx_str_t *key, ngx_http_apim_lookup_t *lk);
void ngx_http_apim_lookup_cache_clear(void);
ngx_uint_t ngx_http_apim_lookup_may_call(ngx_http_apim_lookup_t *lk,
    ngx_str_t *api);


#endif /* _NGX_HTTP_APIM_LOOKUP_H_INCLUDED_ */
