
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Encoding and decoding of the store's records.  Every integer is fixed
 * 64-bit little-endian (flags too: the upper 32 bits are written as zero
 * and must read as zero, except a key's, which hold its usage
 * generation), every string a 32-bit little-endian length and its bytes,
 * without a terminating zero:
 *
 *   key       'K' 1  flags+gen created not_before expires_at    34 bytes
 *                    id consumer plan apis metadata             5 strings
 *   consumer  'C' 1  flags created                              18 bytes
 *                    name id plan metadata                      4 strings
 *   usage     'U' 2  window_start window_end count tat gen      42 bytes
 *            ('U' 1  the same without gen, read as generation 0) 34 bytes
 *
 * A record must be exactly as long as its fields: a decoder refuses a
 * wrong type, another version, a length running past the input and bytes
 * left over.  A new field means a new version.
 */


#include <string.h>

#include "ngx_apim_record.h"


#define NGX_APIM_KEY_INTS          4
#define NGX_APIM_KEY_STRS          5
#define NGX_APIM_CONSUMER_INTS     2
#define NGX_APIM_CONSUMER_STRS     4


static int ngx_apim_get_flags(ngx_apim_reader_t *rd, uint32_t *flags);


size_t
ngx_apim_key_rec_size(const ngx_apim_key_rec_t *rec)
{
    return NGX_APIM_RECORD_HEAD
           + NGX_APIM_KEY_INTS * NGX_APIM_RECORD_INT
           + NGX_APIM_KEY_STRS * NGX_APIM_RECORD_STRLEN
           + rec->id.len + rec->consumer.len + rec->plan.len
           + rec->apis.len + rec->metadata.len;
}


/* buf holds ngx_apim_key_rec_size() bytes */

void
ngx_apim_key_rec_encode(const ngx_apim_key_rec_t *rec, unsigned char *buf)
{
    unsigned char  *p;

    p = ngx_apim_record_put_head(buf, NGX_APIM_RECORD_KEY,
                                 NGX_APIM_RECORD_VERSION);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->usage_gen << 32
                                   | rec->flags);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->created);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->not_before);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->expires_at);
    p = ngx_apim_record_put_str(p, &rec->id);
    p = ngx_apim_record_put_str(p, &rec->consumer);
    p = ngx_apim_record_put_str(p, &rec->plan);
    p = ngx_apim_record_put_str(p, &rec->apis);
    (void) ngx_apim_record_put_str(p, &rec->metadata);
}


int
ngx_apim_key_rec_decode(ngx_apim_key_rec_t *rec, const void *data,
    size_t len)
{
    uint64_t           flags, created, not_before, expires_at;
    ngx_apim_reader_t  rd;

    if (ngx_apim_record_get_head(&rd, data, len, NGX_APIM_RECORD_KEY,
                                 NGX_APIM_RECORD_VERSION) != 0
        || ngx_apim_record_get_int(&rd, &flags) != 0
        || ngx_apim_record_get_int(&rd, &created) != 0
        || ngx_apim_record_get_int(&rd, &not_before) != 0
        || ngx_apim_record_get_int(&rd, &expires_at) != 0
        || ngx_apim_record_get_str(&rd, &rec->id) != 0
        || ngx_apim_record_get_str(&rd, &rec->consumer) != 0
        || ngx_apim_record_get_str(&rd, &rec->plan) != 0
        || ngx_apim_record_get_str(&rd, &rec->apis) != 0
        || ngx_apim_record_get_str(&rd, &rec->metadata) != 0
        || rd.pos != rd.last)
    {
        return -1;
    }

    rec->flags = (uint32_t) flags;
    rec->usage_gen = (uint32_t) (flags >> 32);
    rec->created = (int64_t) created;
    rec->not_before = (int64_t) not_before;
    rec->expires_at = (int64_t) expires_at;

    return 0;
}


size_t
ngx_apim_consumer_rec_size(const ngx_apim_consumer_rec_t *rec)
{
    return NGX_APIM_RECORD_HEAD
           + NGX_APIM_CONSUMER_INTS * NGX_APIM_RECORD_INT
           + NGX_APIM_CONSUMER_STRS * NGX_APIM_RECORD_STRLEN
           + rec->name.len + rec->id.len + rec->plan.len
           + rec->metadata.len;
}


/* buf holds ngx_apim_consumer_rec_size() bytes */

void
ngx_apim_consumer_rec_encode(const ngx_apim_consumer_rec_t *rec,
    unsigned char *buf)
{
    unsigned char  *p;

    p = ngx_apim_record_put_head(buf, NGX_APIM_RECORD_CONSUMER,
                                 NGX_APIM_RECORD_VERSION);
    p = ngx_apim_record_put_int(p, rec->flags);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->created);
    p = ngx_apim_record_put_str(p, &rec->name);
    p = ngx_apim_record_put_str(p, &rec->id);
    p = ngx_apim_record_put_str(p, &rec->plan);
    (void) ngx_apim_record_put_str(p, &rec->metadata);
}


int
ngx_apim_consumer_rec_decode(ngx_apim_consumer_rec_t *rec,
    const void *data, size_t len)
{
    uint64_t           created;
    ngx_apim_reader_t  rd;

    if (ngx_apim_record_get_head(&rd, data, len,
                                 NGX_APIM_RECORD_CONSUMER,
                                 NGX_APIM_RECORD_VERSION) != 0
        || ngx_apim_get_flags(&rd, &rec->flags) != 0
        || ngx_apim_record_get_int(&rd, &created) != 0
        || ngx_apim_record_get_str(&rd, &rec->name) != 0
        || ngx_apim_record_get_str(&rd, &rec->id) != 0
        || ngx_apim_record_get_str(&rd, &rec->plan) != 0
        || ngx_apim_record_get_str(&rd, &rec->metadata) != 0
        || rd.pos != rd.last)
    {
        return -1;
    }

    rec->created = (int64_t) created;

    return 0;
}


void
ngx_apim_usage_rec_encode(const ngx_apim_usage_rec_t *rec,
    unsigned char buf[NGX_APIM_USAGE_LEN])
{
    unsigned char  *p;

    buf[0] = NGX_APIM_RECORD_USAGE;
    buf[1] = NGX_APIM_USAGE_VERSION;

    p = ngx_apim_record_put_int(buf + NGX_APIM_RECORD_HEAD,
                                (uint64_t) rec->window_start);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->window_end);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->count);
    p = ngx_apim_record_put_int(p, (uint64_t) rec->tat);
    (void) ngx_apim_record_put_int(p, rec->gen);
}


int
ngx_apim_usage_rec_decode(ngx_apim_usage_rec_t *rec, const void *data,
    size_t len)
{
    uint64_t              v[5];
    ngx_apim_reader_t     rd;
    const unsigned char  *p = data;

    /* version 1, written before usage generations, reads as generation 0 */

    if (!(len == NGX_APIM_USAGE_LEN && p[1] == NGX_APIM_USAGE_VERSION)
        && !(len == NGX_APIM_USAGE_V1_LEN && p[1] == 1))
    {
        return -1;
    }

    if (p[0] != NGX_APIM_RECORD_USAGE) {
        return -1;
    }

    rd.pos = p + NGX_APIM_RECORD_HEAD;
    rd.last = p + len;
    v[4] = 0;

    if (ngx_apim_record_get_int(&rd, &v[0]) != 0
        || ngx_apim_record_get_int(&rd, &v[1]) != 0
        || ngx_apim_record_get_int(&rd, &v[2]) != 0
        || ngx_apim_record_get_int(&rd, &v[3]) != 0
        || (rd.pos != rd.last
            && (ngx_apim_record_get_int(&rd, &v[4]) != 0 || v[4] > UINT32_MAX))
        || rd.pos != rd.last)
    {
        return -1;
    }

    rec->window_start = (int64_t) v[0];
    rec->window_end = (int64_t) v[1];
    rec->count = (int64_t) v[2];
    rec->tat = (int64_t) v[3];
    rec->gen = (uint32_t) v[4];

    return 0;
}


/*
 * The primitives, shared with the mesh's edge records: a head (type and
 * version), an integer, a string; a getter refuses to read past the end.
 */

unsigned char *
ngx_apim_record_put_head(unsigned char *p, int type, int version)
{
    *p++ = (unsigned char) type;
    *p++ = (unsigned char) version;

    return p;
}


unsigned char *
ngx_apim_record_put_int(unsigned char *p, uint64_t v)
{
    int  i;

    for (i = 0; i < NGX_APIM_RECORD_INT; i++) {
        *p++ = (unsigned char) (v >> (8 * i));
    }

    return p;
}


unsigned char *
ngx_apim_record_put_str(unsigned char *p, const ngx_apim_str_t *s)
{
    int       i;
    uint32_t  n;

    n = (uint32_t) s->len;

    for (i = 0; i < NGX_APIM_RECORD_STRLEN; i++) {
        *p++ = (unsigned char) (n >> (8 * i));
    }

    if (s->len) {
        memcpy(p, s->data, s->len);
    }

    return p + s->len;
}


int
ngx_apim_record_get_head(ngx_apim_reader_t *rd, const void *data,
    size_t len, int type, int version)
{
    rd->pos = data;
    rd->last = rd->pos + len;

    if (len < NGX_APIM_RECORD_HEAD
        || rd->pos[0] != type
        || rd->pos[1] != version)
    {
        return -1;
    }

    rd->pos += NGX_APIM_RECORD_HEAD;

    return 0;
}


int
ngx_apim_record_get_int(ngx_apim_reader_t *rd, uint64_t *v)
{
    int  i;

    if ((size_t) (rd->last - rd->pos) < NGX_APIM_RECORD_INT) {
        return -1;
    }

    *v = 0;

    for (i = NGX_APIM_RECORD_INT - 1; i >= 0; i--) {
        *v = (*v << 8) | rd->pos[i];
    }

    rd->pos += NGX_APIM_RECORD_INT;

    return 0;
}


static int
ngx_apim_get_flags(ngx_apim_reader_t *rd, uint32_t *flags)
{
    uint64_t  v;

    if (ngx_apim_record_get_int(rd, &v) != 0 || v > UINT32_MAX) {
        return -1;
    }

    *flags = (uint32_t) v;

    return 0;
}


int
ngx_apim_record_get_str(ngx_apim_reader_t *rd, ngx_apim_str_t *s)
{
    int       i;
    uint32_t  n;

    if ((size_t) (rd->last - rd->pos) < NGX_APIM_RECORD_STRLEN) {
        return -1;
    }

    n = 0;

    for (i = NGX_APIM_RECORD_STRLEN - 1; i >= 0; i--) {
        n = (n << 8) | rd->pos[i];
    }

    rd->pos += NGX_APIM_RECORD_STRLEN;

    if ((size_t) (rd->last - rd->pos) < n) {
        return -1;
    }

    s->len = n;
    s->data = (const char *) rd->pos;

    rd->pos += n;

    return 0;
}
