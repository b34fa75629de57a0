
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
 * the input and bytes left over.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_mesh_policy_record.h"


#define NGX_MESH_RECORD_HEAD       2
#define NGX_MESH_RECORD_INT        8
#define NGX_MESH_RECORD_STRLEN     4

#define NGX_MESH_EDGE_INTS         7
#define NGX_MESH_EDGE_STRS         4


typedef struct {
    const unsigned char  *pos;
    const unsigned char  *last;
} ngx_mesh_reader_t;


static unsigned char *ngx_mesh_put_int(unsigned char *p, int64_t v);
static unsigned char *ngx_mesh_put_str(unsigned char *p,
    const ngx_apim_str_t *s);
static int ngx_mesh_get_int(ngx_mesh_reader_t *rd, int64_t *v);
static int ngx_mesh_get_str(ngx_mesh_reader_t *rd, ngx_apim_str_t *s);


size_t
ngx_mesh_edge_rec_size(const ngx_mesh_edge_rec_t *rec)
{
    return NGX_MESH_RECORD_HEAD
           + NGX_MESH_EDGE_INTS * NGX_MESH_RECORD_INT
           + NGX_MESH_EDGE_STRS * NGX_MESH_RECORD_STRLEN
           + rec->source.len + rec->service.len + rec->methods.len
           + rec->paths.len;
}


/* buf holds ngx_mesh_edge_rec_size() bytes */

void
ngx_mesh_edge_rec_encode(const ngx_mesh_edge_rec_t *rec, unsigned char *buf)
{
    unsigned char  *p;

    p = buf;
    *p++ = NGX_MESH_RECORD_EDGE;
    *p++ = NGX_MESH_RECORD_VERSION;

    p = ngx_mesh_put_int(p, rec->id);
    p = ngx_mesh_put_int(p, rec->created);
    p = ngx_mesh_put_int(p, rec->action);
    p = ngx_mesh_put_int(p, rec->rate);
    p = ngx_mesh_put_int(p, rec->window);
    p = ngx_mesh_put_int(p, rec->burst);
    p = ngx_mesh_put_int(p, rec->per);
    p = ngx_mesh_put_str(p, &rec->source);
    p = ngx_mesh_put_str(p, &rec->service);
    p = ngx_mesh_put_str(p, &rec->methods);
    (void) ngx_mesh_put_str(p, &rec->paths);
}


int
ngx_mesh_edge_rec_decode(ngx_mesh_edge_rec_t *rec, const void *data,
    size_t len)
{
    ngx_mesh_reader_t  rd;

    rd.pos = data;
    rd.last = rd.pos + len;

    if (len < NGX_MESH_RECORD_HEAD
        || rd.pos[0] != NGX_MESH_RECORD_EDGE
        || rd.pos[1] != NGX_MESH_RECORD_VERSION)
    {
        return -1;
    }

    rd.pos += NGX_MESH_RECORD_HEAD;

    if (ngx_mesh_get_int(&rd, &rec->id) != 0
        || ngx_mesh_get_int(&rd, &rec->created) != 0
        || ngx_mesh_get_int(&rd, &rec->action) != 0
        || ngx_mesh_get_int(&rd, &rec->rate) != 0
        || ngx_mesh_get_int(&rd, &rec->window) != 0
        || ngx_mesh_get_int(&rd, &rec->burst) != 0
        || ngx_mesh_get_int(&rd, &rec->per) != 0
        || ngx_mesh_get_str(&rd, &rec->source) != 0
        || ngx_mesh_get_str(&rd, &rec->service) != 0
        || ngx_mesh_get_str(&rd, &rec->methods) != 0
        || ngx_mesh_get_str(&rd, &rec->paths) != 0
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


static unsigned char *
ngx_mesh_put_int(unsigned char *p, int64_t v)
{
    int       i;
    uint64_t  u;

    u = (uint64_t) v;

    for (i = 0; i < NGX_MESH_RECORD_INT; i++) {
        *p++ = (unsigned char) (u >> (8 * i));
    }

    return p;
}


static unsigned char *
ngx_mesh_put_str(unsigned char *p, const ngx_apim_str_t *s)
{
    int  i;

    for (i = 0; i < NGX_MESH_RECORD_STRLEN; i++) {
        *p++ = (unsigned char) (s->len >> (8 * i));
    }

    if (s->len) {
        memcpy(p, s->data, s->len);
    }

    return p + s->len;
}


static int
ngx_mesh_get_int(ngx_mesh_reader_t *rd, int64_t *v)
{
    int       i;
    uint64_t  u;

    if (rd->last - rd->pos < NGX_MESH_RECORD_INT) {
        return -1;
    }

    u = 0;

    for (i = NGX_MESH_RECORD_INT - 1; i >= 0; i--) {
        u = (u << 8) | rd->pos[i];
    }

    rd->pos += NGX_MESH_RECORD_INT;
    *v = (int64_t) u;

    return 0;
}


static int
ngx_mesh_get_str(ngx_mesh_reader_t *rd, ngx_apim_str_t *s)
{
    int       i;
    uint32_t  n;

    if (rd->last - rd->pos < NGX_MESH_RECORD_STRLEN) {
        return -1;
    }

    n = 0;

    for (i = NGX_MESH_RECORD_STRLEN - 1; i >= 0; i--) {
        n = (n << 8) | rd->pos[i];
    }

    rd->pos += NGX_MESH_RECORD_STRLEN;

    if ((size_t) (rd->last - rd->pos) < n) {
        return -1;
    }

    s->len = n;
    s->data = (const char *) rd->pos;
    rd->pos += n;

    return 0;
}
