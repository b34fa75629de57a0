
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Mesh edges in the store's "policies" sub-database: who may call which
 * service (allow, deny) and how fast (a rate), written by apimctl and read
 * by nginx on the request path.  libc only; apimctl links it too.
 *
 *   policies  "e:" + service + "\0" + id (10 digits)  -> edge record
 *             "n:edge"                                -> the last id (8 bytes)
 *
 * The key puts a service's edges next to each other, in the order they
 * were made: nginx reads them with one cursor range.
 */


#ifndef _NGX_MESH_POLICY_RECORD_H_INCLUDED_
#define _NGX_MESH_POLICY_RECORD_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_apim_record.h"


#define NGX_MESH_RECORD_EDGE       'E'
#define NGX_MESH_RECORD_VERSION    1

#define NGX_MESH_EDGE_PREFIX       "e:"
#define NGX_MESH_EDGE_SEQ          "n:edge"
#define NGX_MESH_EDGE_ID_LEN       10
#define NGX_MESH_EDGE_ID_MAX       9999999999LL
#define NGX_MESH_SERVICE_MAX       64
#define NGX_MESH_EDGE_KEY_MAX      (2 + NGX_MESH_SERVICE_MAX + 1           \
                                    + NGX_MESH_EDGE_ID_LEN)

#define NGX_MESH_EDGE_ALLOW        1
#define NGX_MESH_EDGE_DENY         2
#define NGX_MESH_EDGE_LIMIT        3      /* a rate only, no verdict */

#define NGX_MESH_EDGE_PER_EDGE     0
#define NGX_MESH_EDGE_PER_SOURCE   1


typedef struct {
    int64_t             id;
    int64_t             created;
    int64_t             action;       /* NGX_MESH_EDGE_ALLOW ... */
    int64_t             rate;         /* requests a window; 0: no limit */
    int64_t             window;       /* seconds: 1 (r/s) or 60 (r/m) */
    int64_t             burst;
    int64_t             per;          /* NGX_MESH_EDGE_PER_* */
    ngx_apim_str_t      source;       /* a caller pattern */
    ngx_apim_str_t      service;
    ngx_apim_str_t      methods;      /* "GET,POST"; empty: any */
    ngx_apim_str_t      paths;        /* "/a*,/b"; empty: any */
} ngx_mesh_edge_rec_t;


size_t ngx_mesh_edge_rec_size(const ngx_mesh_edge_rec_t *rec);
void ngx_mesh_edge_rec_encode(const ngx_mesh_edge_rec_t *rec,
    unsigned char *buf);
int ngx_mesh_edge_rec_decode(ngx_mesh_edge_rec_t *rec, const void *data,
    size_t len);

size_t ngx_mesh_edge_key(unsigned char *buf, const char *service,
    size_t len, int64_t id);
size_t ngx_mesh_edge_prefix(unsigned char *buf, const char *service,
    size_t len);


#endif /* _NGX_MESH_POLICY_RECORD_H_INCLUDED_ */
