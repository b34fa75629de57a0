
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_LIMIT_H_INCLUDED_
#define _NGX_HTTP_APIM_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_store.h"
#include "ngx_apim_window.h"


#define NGX_HTTP_APIM_LIMIT_PASSED   0
#define NGX_HTTP_APIM_LIMIT_RATE     1
#define NGX_HTTP_APIM_LIMIT_QUOTA    2


typedef struct {
    int64_t               interval;    /* rate: microseconds a request; 0 */
    int64_t               burst;
    int64_t               rate;        /* requests a rate window ("q") */
    int64_t               quota;       /* requests a window; 0: none */
    ngx_apim_period_t     period;
} ngx_http_apim_limit_t;


typedef struct {
    ngx_uint_t            rejected;    /* NGX_HTTP_APIM_LIMIT_* */
    int64_t               retry_after; /* seconds */
    int64_t               rate_remaining;
    int64_t               rate_used;   /* intervals of the burst in use */
    int64_t               rate_reset;  /* seconds */
    int64_t               quota_used;
    int64_t               quota_remaining;
    int64_t               quota_reset; /* seconds */
} ngx_http_apim_limit_result_t;


#define NGX_HTTP_APIM_LIMIT_COUNT    0x01  /* a passing request is counted */
#define NGX_HTTP_APIM_LIMIT_DETAIL   0x02  /* remaining, reset, used figures */


ngx_shm_zone_t *ngx_http_apim_limit_zone(ngx_conf_t *cf, size_t size,
    void *tag);
ngx_int_t ngx_http_apim_limit_check(ngx_shm_zone_t *zone, ngx_str_t *name,
    uint32_t gen, ngx_http_apim_limit_t *limit, ngx_apim_store_t *st,
    ngx_http_apim_limit_result_t *res);
ngx_int_t ngx_http_apim_limit_count(ngx_shm_zone_t *zone, ngx_str_t *name,
    uint32_t hash, uint32_t gen, ngx_http_apim_limit_t *limit,
    ngx_apim_store_t *st, ngx_http_apim_limit_result_t *res,
    ngx_uint_t flags);
uint32_t ngx_http_apim_limit_hash(ngx_str_t *name);
ngx_int_t ngx_http_apim_limit_peek(ngx_shm_zone_t *zone, ngx_str_t *name,
    uint32_t gen, ngx_http_apim_limit_t *limit, ngx_apim_store_t *st,
    ngx_http_apim_limit_result_t *res);
ngx_int_t ngx_http_apim_limit_flush(ngx_shm_zone_t *zone, ngx_log_t *log,
    ngx_uint_t steps);
void ngx_http_apim_limit_start_flush(ngx_cycle_t *cycle, ngx_shm_zone_t *zone,
    ngx_msec_t interval);


#endif /* _NGX_HTTP_APIM_LIMIT_H_INCLUDED_ */
