
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Encoding and decoding of analytics records (the layout is described in
 * ngx_apim_analytics_record.h).  A decoder refuses another type, another
 * version, a wrong length and a string running past the input; decoding
 * points into the input, copying nothing.
 */


#include <string.h>

#include "ngx_apim_analytics_record.h"


#define NGX_APIM_ANALYTICS_INTS                                              \
    (4 + NGX_APIM_ANALYTICS_BUCKETS + NGX_APIM_ANALYTICS_REASONS)


const int64_t  ngx_apim_analytics_le_ms[NGX_APIM_ANALYTICS_BUCKETS - 1] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
};


const char  *ngx_apim_analytics_classes[NGX_APIM_ANALYTICS_CLASSES] = {
    "other", "1xx", "2xx", "3xx", "4xx", "5xx"
};


const char  *ngx_apim_analytics_reasons[NGX_APIM_ANALYTICS_REASONS] = {
    "NO_KEY", "BAD_KEY", "EXPIRED", "FORBIDDEN", "RATE_LIMITED",
    "QUOTA_EXCEEDED", "STORE_ERROR"
};


static unsigned char *ngx_apim_analytics_put_str(unsigned char *p,
    const ngx_apim_str_t *s);
static int ngx_apim_analytics_get_str(const unsigned char **pos,
    const unsigned char *last, ngx_apim_str_t *s);


/* returns the key's length; names longer than NAME_MAX are cut */

size_t
ngx_apim_analytics_key_encode(const ngx_apim_analytics_key_t *key,
    unsigned char buf[NGX_APIM_ANALYTICS_KEY_MAX])
{
    unsigned char  *p;

    p = buf + ngx_apim_analytics_key_prefix(key->granularity, key->start,
                                            buf);

    p = ngx_apim_analytics_put_str(p, &key->api);
    p = ngx_apim_analytics_put_str(p, &key->consumer);
    p = ngx_apim_analytics_put_str(p, &key->plan);

    *p++ = (unsigned char) key->status_class;

    return p - buf;
}


/* the first bytes of every key of one bucket: where a range walk starts */

size_t
ngx_apim_analytics_key_prefix(int granularity, int64_t start,
    unsigned char buf[NGX_APIM_ANALYTICS_PREFIX])
{
    int       i;
    uint64_t  t;

    buf[0] = (unsigned char) granularity;

    t = (uint64_t) (start < 0 ? 0 : start);

    for (i = 0; i < 8; i++) {
        buf[1 + i] = (unsigned char) (t >> (8 * (7 - i)));
    }

    return NGX_APIM_ANALYTICS_PREFIX;
}


int
ngx_apim_analytics_key_decode(ngx_apim_analytics_key_t *key,
    const void *data, size_t len)
{
    int                   i;
    uint64_t              t;
    const unsigned char  *p, *last;

    p = data;
    last = p + len;

    if (len < NGX_APIM_ANALYTICS_PREFIX + 4
        || (p[0] != NGX_APIM_ANALYTICS_MINUTE
            && p[0] != NGX_APIM_ANALYTICS_HOUR))
    {
        return -1;
    }

    key->granularity = p[0];

    t = 0;

    for (i = 0; i < 8; i++) {
        t = (t << 8) | p[1 + i];
    }

    key->start = (int64_t) t;

    p += NGX_APIM_ANALYTICS_PREFIX;

    if (ngx_apim_analytics_get_str(&p, last, &key->api) != 0
        || ngx_apim_analytics_get_str(&p, last, &key->consumer) != 0
        || ngx_apim_analytics_get_str(&p, last, &key->plan) != 0
        || last - p != 1
        || *p >= NGX_APIM_ANALYTICS_CLASSES)
    {
        return -1;
    }

    key->status_class = *p;

    return 0;
}


void
ngx_apim_analytics_rec_encode(const ngx_apim_analytics_counts_t *c,
    unsigned char buf[NGX_APIM_ANALYTICS_LEN])
{
    int             i, j;
    uint64_t        v;
    unsigned char  *p;
    const int64_t  *n;

    p = buf;

    *p++ = NGX_APIM_RECORD_ANALYTICS;
    *p++ = NGX_APIM_RECORD_VERSION;

    /* the struct is NGX_APIM_ANALYTICS_INTS int64_t in the record's order */

    n = &c->requests;

    for (i = 0; i < NGX_APIM_ANALYTICS_INTS; i++) {
        v = (uint64_t) n[i];

        for (j = 0; j < 8; j++) {
            *p++ = (unsigned char) (v >> (8 * j));
        }
    }
}


int
ngx_apim_analytics_rec_decode(ngx_apim_analytics_counts_t *c,
    const void *data, size_t len)
{
    int                   i, j;
    int64_t              *n;
    uint64_t              v;
    const unsigned char  *p;

    p = data;

    if (len != NGX_APIM_ANALYTICS_LEN
        || p[0] != NGX_APIM_RECORD_ANALYTICS
        || p[1] != NGX_APIM_RECORD_VERSION)
    {
        return -1;
    }

    p += 2;
    n = &c->requests;

    for (i = 0; i < NGX_APIM_ANALYTICS_INTS; i++) {
        v = 0;

        for (j = 7; j >= 0; j--) {
            v = (v << 8) | p[j];
        }

        n[i] = (int64_t) v;
        p += 8;
    }

    return 0;
}


void
ngx_apim_analytics_add(ngx_apim_analytics_counts_t *dst,
    const ngx_apim_analytics_counts_t *src)
{
    int             i;
    int64_t        *d;
    const int64_t  *s;

    d = &dst->requests;
    s = &src->requests;

    for (i = 0; i < NGX_APIM_ANALYTICS_INTS; i++) {
        d[i] += s[i];
    }
}


void
ngx_apim_analytics_sub(ngx_apim_analytics_counts_t *dst,
    const ngx_apim_analytics_counts_t *src)
{
    int             i;
    int64_t        *d;
    const int64_t  *s;

    d = &dst->requests;
    s = &src->requests;

    for (i = 0; i < NGX_APIM_ANALYTICS_INTS; i++) {
        d[i] -= s[i];
    }
}


/* the histogram bucket of a latency: the first whose bound holds it */

unsigned
ngx_apim_analytics_bucket(int64_t ms)
{
    unsigned  i;

    for (i = 0; i < NGX_APIM_ANALYTICS_BUCKETS - 1; i++) {
        if (ms <= ngx_apim_analytics_le_ms[i]) {
            return i;
        }
    }

    return NGX_APIM_ANALYTICS_BUCKETS - 1;
}


static unsigned char *
ngx_apim_analytics_put_str(unsigned char *p, const ngx_apim_str_t *s)
{
    size_t  n;

    n = s->len < NGX_APIM_ANALYTICS_NAME_MAX ? s->len
                                             : NGX_APIM_ANALYTICS_NAME_MAX;

    *p++ = (unsigned char) n;

    if (n) {
        memcpy(p, s->data, n);
    }

    return p + n;
}


static int
ngx_apim_analytics_get_str(const unsigned char **pos,
    const unsigned char *last, ngx_apim_str_t *s)
{
    size_t                n;
    const unsigned char  *p;

    p = *pos;

    if (p >= last) {
        return -1;
    }

    n = *p++;

    if (n > NGX_APIM_ANALYTICS_NAME_MAX || (size_t) (last - p) < n) {
        return -1;
    }

    s->len = n;
    s->data = (const char *) p;

    *pos = p + n;

    return 0;
}
