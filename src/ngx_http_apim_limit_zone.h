
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The limiter's shared zone, for its two files only: the counting
 * (src/ngx_http_apim_limit.c) and the writing back
 * (src/ngx_http_apim_limit_flush.c).
 */


#ifndef _NGX_HTTP_APIM_LIMIT_ZONE_H_INCLUDED_
#define _NGX_HTTP_APIM_LIMIT_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_apim_record.h"


typedef struct ngx_http_apim_limit_node_s  ngx_http_apim_limit_node_t;

struct ngx_http_apim_limit_node_s {
    ngx_http_apim_limit_node_t    *next;      /* in its bucket */
    uint32_t                       hash;      /* crc32 of the name */
    ngx_queue_t                    lru;
    ngx_queue_t                    dirty;
    ngx_uint_t                     round;     /* the flush round that took
                                                 its state last */
    ngx_apim_usage_rec_t           usage;
    unsigned                       is_dirty:1;
    u_short                        len;
    u_char                         name[1];
};


/*
 * The states are found through a hash table, not a tree: with a million
 * keys in use a tree walk is some twenty cache misses, a bucket one or two.
 */

typedef struct {
    ngx_http_apim_limit_node_t   **buckets;
    ngx_uint_t                     mask;      /* buckets - 1 */
    ngx_queue_t                    lru;
    ngx_queue_t                    dirty;
    ngx_uint_t                     taken;     /* the last round taken */
    ngx_uint_t                     written;   /* the last round written */
    ngx_uint_t                     full;      /* the last flush found the
                                                 store full */
} ngx_http_apim_limit_sh_t;


typedef struct {
    ngx_http_apim_limit_sh_t      *sh;
    ngx_slab_pool_t               *shpool;
} ngx_http_apim_limit_ctx_t;


ngx_http_apim_limit_node_t *ngx_http_apim_limit_lookup(
    ngx_http_apim_limit_ctx_t *ctx, ngx_str_t *name, uint32_t hash);


#endif /* _NGX_HTTP_APIM_LIMIT_ZONE_H_INCLUDED_ */
