
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_ANALYTICS_H_INCLUDED_
#define _NGX_HTTP_APIM_ANALYTICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_analytics_record.h"


typedef struct {
    ngx_flag_t                    enabled;     /* apim_analytics is set */
    ngx_msec_t                    flush;
    time_t                        retention;   /* of hour buckets */
    size_t                        size;        /* of the shared zone */
    ngx_shm_zone_t               *zone;
} ngx_http_apim_analytics_conf_t;


/* what the log phase counts of one request */

typedef struct {
    ngx_str_t                     api;
    ngx_str_t                     consumer;
    ngx_str_t                     plan;
    ngx_uint_t                    status;      /* the HTTP status */
    ngx_uint_t                    reason;      /* $apim_status; 0: PASSED */
    off_t                         bytes_in;
    off_t                         bytes_out;
    ngx_msec_int_t                latency;     /* ms */
} ngx_http_apim_analytics_req_t;


/* one series (minute buckets folded), as the metrics endpoint reads it */

typedef struct {
    ngx_str_t                     api;
    ngx_str_t                     consumer;
    ngx_str_t                     plan;
    ngx_uint_t                    status_class;
    ngx_apim_analytics_counts_t   counts;
    u_char                        names[3 * NGX_APIM_ANALYTICS_NAME_MAX];
} ngx_http_apim_analytics_item_t;


char *ngx_http_apim_analytics_parse(ngx_conf_t *cf,
    ngx_http_apim_analytics_conf_t *acf);
ngx_int_t ngx_http_apim_analytics_init_conf(ngx_conf_t *cf,
    ngx_http_apim_analytics_conf_t *acf, void *tag);
void ngx_http_apim_analytics_count(ngx_shm_zone_t *zone,
    ngx_http_apim_analytics_req_t *req);
ngx_int_t ngx_http_apim_analytics_flush(ngx_shm_zone_t *zone, ngx_log_t *log,
    ngx_uint_t batches);
void ngx_http_apim_analytics_start_flush(ngx_cycle_t *cycle,
    ngx_shm_zone_t *zone);

ngx_shm_zone_t *ngx_http_apim_analytics_zone(void);
ngx_int_t ngx_http_apim_analytics_snapshot(ngx_shm_zone_t *zone,
    ngx_pool_t *pool, ngx_array_t *items, uint64_t *dropped);

ngx_int_t ngx_http_apim_analytics_get(ngx_http_request_t *r);


#endif /* _NGX_HTTP_APIM_ANALYTICS_H_INCLUDED_ */
