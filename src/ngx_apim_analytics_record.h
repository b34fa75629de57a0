
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The analytics records of the store's "analytics" sub-database, in a
 * compact binary form that nginx writes and tools read.  Depends on libc
 * only, so that apimctl can link it.
 *
 *   key    granularity ('m' minute, 'h' hour)         1 byte
 *          bucket start, seconds, big-endian          8 bytes
 *          api, consumer, plan: a length byte and     3 strings
 *          the bytes each
 *          status class (0 other, 1..5: 1xx..5xx)     1 byte
 *
 *   value  'A' 1, then 22 64-bit little-endian integers: requests,
 *          bytes in, bytes out, latency sum (ms), the latency histogram
 *          (11 buckets, each counted alone, not cumulative), rejections
 *          by reason (7)                              178 bytes
 *
 * Keys sort by granularity, then time, so that a time range is one
 * cursor walk and old buckets are removed from the front.
 */


#ifndef _NGX_APIM_ANALYTICS_RECORD_H_INCLUDED_
#define _NGX_APIM_ANALYTICS_RECORD_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_apim_record.h"


#define NGX_APIM_ANALYTICS_MINUTE    'm'
#define NGX_APIM_ANALYTICS_HOUR      'h'

#define NGX_APIM_RECORD_ANALYTICS    'A'

#define NGX_APIM_ANALYTICS_NAME_MAX  64
#define NGX_APIM_ANALYTICS_BUCKETS   11     /* the last one is +Inf */
#define NGX_APIM_ANALYTICS_CLASSES   6      /* other, 1xx .. 5xx */
#define NGX_APIM_ANALYTICS_REASONS   7      /* NO_KEY .. STORE_ERROR */

#define NGX_APIM_ANALYTICS_PREFIX    9
#define NGX_APIM_ANALYTICS_KEY_MAX                                           \
    (NGX_APIM_ANALYTICS_PREFIX + 3 * (1 + NGX_APIM_ANALYTICS_NAME_MAX) + 1)
#define NGX_APIM_ANALYTICS_LEN                                               \
    (2 + 8 * (4 + NGX_APIM_ANALYTICS_BUCKETS + NGX_APIM_ANALYTICS_REASONS))


typedef struct {
    int64_t             requests;
    int64_t             bytes_in;
    int64_t             bytes_out;
    int64_t             latency_ms;     /* the sum */
    int64_t             latency[NGX_APIM_ANALYTICS_BUCKETS];
    int64_t             rejected[NGX_APIM_ANALYTICS_REASONS];
} ngx_apim_analytics_counts_t;


typedef struct {
    int                 granularity;    /* 'm' or 'h' */
    int64_t             start;          /* seconds since the epoch */
    unsigned            status_class;   /* 0 .. 5 */
    ngx_apim_str_t      api;
    ngx_apim_str_t      consumer;
    ngx_apim_str_t      plan;
} ngx_apim_analytics_key_t;


/* the upper bounds of the latency buckets, in milliseconds, but +Inf */
extern const int64_t     ngx_apim_analytics_le_ms[NGX_APIM_ANALYTICS_BUCKETS
                                                  - 1];
/* "other", "1xx" .. "5xx" */
extern const char       *ngx_apim_analytics_classes[NGX_APIM_ANALYTICS_CLASSES];
/* $apim_status values 1 .. 7: "NO_KEY" .. "STORE_ERROR" */
extern const char       *ngx_apim_analytics_reasons[NGX_APIM_ANALYTICS_REASONS];


size_t ngx_apim_analytics_key_encode(const ngx_apim_analytics_key_t *key,
    unsigned char buf[NGX_APIM_ANALYTICS_KEY_MAX]);
size_t ngx_apim_analytics_key_prefix(int granularity, int64_t start,
    unsigned char buf[NGX_APIM_ANALYTICS_PREFIX]);
int ngx_apim_analytics_key_decode(ngx_apim_analytics_key_t *key,
    const void *data, size_t len);

void ngx_apim_analytics_rec_encode(const ngx_apim_analytics_counts_t *c,
    unsigned char buf[NGX_APIM_ANALYTICS_LEN]);
int ngx_apim_analytics_rec_decode(ngx_apim_analytics_counts_t *c,
    const void *data, size_t len);

void ngx_apim_analytics_add(ngx_apim_analytics_counts_t *dst,
    const ngx_apim_analytics_counts_t *src);
void ngx_apim_analytics_sub(ngx_apim_analytics_counts_t *dst,
    const ngx_apim_analytics_counts_t *src);
unsigned ngx_apim_analytics_bucket(int64_t ms);


#endif /* _NGX_APIM_ANALYTICS_RECORD_H_INCLUDED_ */
