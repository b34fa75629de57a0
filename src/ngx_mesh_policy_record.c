
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Encoding and decoding of mesh edges, in the form of the store's other
 * records (ngx_apim_record.c): a type byte, a version byte, fixed 64-bit
 * little-endian integers, then strings as a 32-bit little-endian length
 * and the bytes:
 *
 *   edge  'E' 1  id created action rate window burst per      58 bytes
 *                source service methods paths                 4 strings
 *
 * A decoder refuses a wrong type, another version, a length running past
 * the input and bytes left over.  The primitives are the store's own.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_mesh_policy_record.h"


#define NGX_MESH_EDGE_INTS         7
#define NGX_MESH_EDGE_STRS         4


static int ngx_mesh_get_int(ngx_apim_reader_t *rd, int64_t *v);


size_t
ngx_mesh_edge_rec_size(const ngx_mesh_edge_rec_t *rec)
{
    return NGX_APIM_RECORD_HEAD
           + NGX_MESH_EDGE_INTS * NGX_APIM_RECORD_INT
           + NGX_MESH_EDGE_STRS * NGX_APIM_RECORD_STRLEN
           + rec->source.len + rec->service.len + rec->methods.len
           + rec->paths.len;
}


/* buf holds ngx_mesh_edge_rec_size() bytes */

void
ngx_mesh_edge_rec_encode(const ngx_mesh_edge_rec_t *rec, unsigned char *buf)
{
    unsigned char  *p;

    p = ngx_apim_record_put_head(buf, NGX_MESH_RECORD_EDGE,
                                 NGX_MESH_RECORD_VERSION);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->id);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->created);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->action);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->rate);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->window);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->burst);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->per);
    p = ngx_apim_record_put_str(p, &rec->source);
    p = ngx_apim_record_put_str(p, &rec->service);
    p = ngx_apim_record_put_str(p, &rec->methods);
    (void) ngx_apim_record_put_str(p, &rec->paths);
}


int
ngx_mesh_edge_rec_decode(ngx_mesh_edge_rec_t *rec, const void *data,
    size_t len)
{
    ngx_apim_reader_t  rd;

    if (ngx_apim_record_get_head(&rd, data, len, NGX_MESH_RECORD_EDGE,
                                 NGX_MESH_RECORD_VERSION)
        != 0)
    {
        return -1;
    }

    if (ngx_mesh_get_int(&rd, &rec->id) != 0
        || ngx_mesh_get_int(&rd, &rec->created) != 0
        || ngx_mesh_get_int(&rd, &rec->action) != 0
        || ngx_mesh_get_int(&rd, &rec->rate) != 0
        || ngx_mesh_get_int(&rd, &rec->window) != 0
        || ngx_mesh_get_int(&rd, &rec->burst) != 0
        || ngx_mesh_get_int(&rd, &rec->per) != 0
        || ngx_apim_record_get_str(&rd, &rec->source) != 0
        || ngx_apim_record_get_str(&rd, &rec->service) != 0
        || ngx_apim_record_get_str(&rd, &rec->methods) != 0
        || ngx_apim_record_get_str(&rd, &rec->paths) != 0
        || rd.pos != rd.last)
    {
        return -1;
    }

    if (rec->action < NGX_MESH_EDGE_ALLOW || rec->action > NGX_MESH_EDGE_LIMIT
        || rec->rate < 0 || rec->burst < 0
        || (rec->rate && rec->window != 1 && rec->window != 60)
        || rec->source.len == 0)
    {
        return -1;
    }

    return 0;
}


/* "e:" + service + "\0" + the id in 10 digits; buf: NGX_MESH_EDGE_KEY_MAX */

size_t
ngx_mesh_edge_key(unsigned char *buf, const char *service, size_t len,
    int64_t id)
{
    size_t  n;
    char    digits[NGX_MESH_EDGE_ID_LEN + 1];

    n = ngx_mesh_edge_prefix(buf, service, len);

    snprintf(digits, sizeof(digits), "%010lld", (long long) id);
    memcpy(buf + n, digits, NGX_MESH_EDGE_ID_LEN);

    return n + NGX_MESH_EDGE_ID_LEN;
}


/* "e:" + service + "\0": where a service's edges start */

size_t
ngx_mesh_edge_prefix(unsigned char *buf, const char *service, size_t len)
{
    memcpy(buf, NGX_MESH_EDGE_PREFIX, sizeof(NGX_MESH_EDGE_PREFIX) - 1);
    memcpy(buf + sizeof(NGX_MESH_EDGE_PREFIX) - 1, service, len);
    buf[sizeof(NGX_MESH_EDGE_PREFIX) - 1 + len] = '\0';

    return sizeof(NGX_MESH_EDGE_PREFIX) + len;
}


/* the fields are signed: the store's integer, as it was written */

static int
ngx_mesh_get_int(ngx_apim_reader_t *rd, int64_t *v)
{
    uint64_t  u;

    if (ngx_apim_record_get_int(rd, &u) != 0) {
        return -1;
    }

    *v = (int64_t) u;

    return 0;
}
