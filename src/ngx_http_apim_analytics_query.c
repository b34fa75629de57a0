
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The analytics query: GET ?api=&consumer=&plan=&from=&to=&granularity=
 * &top= answers, from the store's analytics buckets, the totals, a time
 * series, and per API its error rate and its top consumers, as JSON.  One
 * cursor walk over the buckets of the time range, in one read
 * transaction.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_key.h"
#include "ngx_apim_analytics_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_json.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_analytics.h"
#include "ngx_http_apim_catalogue.h"    /* RFC 3339 times */


#define NGX_HTTP_APIM_QUERY_TOP       10
#define NGX_HTTP_APIM_QUERY_TOP_MAX   100
#define NGX_HTTP_APIM_QUERY_HASH      256


typedef struct {
    int64_t                        time;
    int64_t                        classes[NGX_APIM_ANALYTICS_CLASSES];
    ngx_apim_analytics_counts_t    counts;
} ngx_http_apim_query_point_t;


typedef struct ngx_http_apim_query_party_s  ngx_http_apim_query_party_t;

/* an API (consumer empty) or one consumer of an API */

struct ngx_http_apim_query_party_s {
    ngx_http_apim_query_party_t   *next;
    uint32_t                       hash;
    ngx_str_t                      api;
    ngx_str_t                      consumer;
    int64_t                        requests;
    int64_t                        errors;
};


typedef struct {
    ngx_pool_t                    *pool;
    ngx_str_t                      api;        /* filters; NULL data: any */
    ngx_str_t                      consumer;
    ngx_str_t                      plan;
    ngx_str_t                      granularity;
    int                            db;         /* 'm' or 'h' */
    int64_t                        step;       /* seconds a point */
    int64_t                        from;
    int64_t                        to;
    ngx_uint_t                     top;
    ngx_array_t                    points;
    ngx_array_t                    parties;    /* of party pointers */
    ngx_http_apim_query_point_t    totals;
    ngx_http_apim_query_party_t   *hash[NGX_HTTP_APIM_QUERY_HASH];
    ngx_uint_t                     failed;
    ngx_int_t                      rc;         /* of a 400 sent */
} ngx_http_apim_query_t;


static ngx_int_t ngx_http_apim_query_args(ngx_http_request_t *r,
    ngx_http_apim_query_t *q);
static ngx_int_t ngx_http_apim_query_bad(ngx_http_request_t *r,
    ngx_http_apim_query_t *q, char *name, char *reason);
static int64_t ngx_http_apim_query_time(ngx_str_t *s);
static ngx_int_t ngx_http_apim_query_digits(u_char *p, ngx_uint_t n);
static int ngx_http_apim_query_record(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static ngx_http_apim_query_party_t *ngx_http_apim_query_party(
    ngx_http_apim_query_t *q, ngx_apim_str_t *api, ngx_apim_str_t *consumer);
static int ngx_http_apim_query_cmp(const void *one, const void *two);
static ngx_int_t ngx_http_apim_query_json(yajl_gen g,
    ngx_http_apim_query_t *q);
static ngx_int_t ngx_http_apim_query_counts(yajl_gen g,
    ngx_http_apim_query_point_t *pt);
static ngx_int_t ngx_http_apim_query_party_json(yajl_gen g,
    ngx_http_apim_query_party_t *p, ngx_uint_t consumer);
static ngx_int_t ngx_http_apim_query_rate(yajl_gen g, const char *name,
    int64_t part, int64_t whole, const char *fmt);
static ngx_int_t ngx_http_apim_query_timestr(yajl_gen g, const char *name,
    int64_t t);


static ngx_str_t  ngx_http_apim_query_type = ngx_string("application/json");

static int64_t  ngx_http_apim_query_mdays[] = {
    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};


ngx_int_t
ngx_http_apim_analytics_get(ngx_http_request_t *r)
{
    u_char                    prefix[NGX_APIM_ANALYTICS_PREFIX];
    int                       rc;
    ngx_int_t                 rv;
    ngx_buf_t                *b;
    yajl_gen                  g;
    ngx_apim_store_t         *st;
    ngx_http_apim_query_t    *q;
    ngx_http_apim_problem_t   pr;

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    rv = ngx_http_apim_problem_method(r, "The analytics endpoint answers "
                                         "GET and HEAD.");
    if (rv != NGX_DECLINED) {
        return rv;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (ngx_http_apim_analytics_zone() == NULL) {
        pr.status = NGX_HTTP_NOT_FOUND;
        ngx_str_set(&pr.title, "Not Found");
        ngx_str_set(&pr.detail, "Analytics are off: \"apim_analytics\" is "
                                "not set.");

        return ngx_http_apim_problem_send(r, &pr);
    }

    q = ngx_pcalloc(r->pool, sizeof(ngx_http_apim_query_t));
    if (q == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q->pool = r->pool;
    q->top = NGX_HTTP_APIM_QUERY_TOP;

    rv = ngx_http_apim_query_args(r, q);

    if (rv == NGX_DONE) {
        return q->rc;
    }

    if (rv != NGX_OK) {
        return rv;
    }

    if (ngx_array_init(&q->points, r->pool, 64,
                       sizeof(ngx_http_apim_query_point_t))
        != NGX_OK
        || ngx_array_init(&q->parties, r->pool, 16,
                          sizeof(ngx_http_apim_query_party_t *))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st = ngx_http_apim_store();

    if (st == NULL || ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        if (st) {
            ngx_http_apim_store_error(r->connection->log, st);
        }

        return ngx_http_apim_problem_store(r);
    }

    (void) ngx_apim_analytics_key_prefix(q->db, q->from, prefix);

    rc = ngx_apim_store_iterate(st, NGX_APIM_DB_ANALYTICS, prefix,
                                NGX_APIM_ANALYTICS_PREFIX,
                                ngx_http_apim_query_record, q);

    if (rc != NGX_APIM_STORE_OK) {
        ngx_apim_store_read_end(st);
        ngx_http_apim_store_error(r->connection->log, st);
        return ngx_http_apim_problem_store(r);
    }

    ngx_apim_store_read_end(st);

    if (q->failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    g = ngx_http_apim_json_gen(r->pool);

    if (g == NULL
        || ngx_http_apim_query_json(g, q) != NGX_OK
        || ngx_http_apim_json_buf(g, r->pool, &b) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_json_send(r, NGX_HTTP_OK, &ngx_http_apim_query_type,
                                   b);
}


static ngx_int_t
ngx_http_apim_query_args(ngx_http_request_t *r, ngx_http_apim_query_t *q)
{
    u_char      *p, *last, *amp, *eq, *dst;
    int64_t      span, from, to;
    ngx_int_t    n;
    ngx_str_t    name, value, *s, from_s, to_s, top_s;
    ngx_uint_t   i;

    ngx_str_null(&from_s);
    ngx_str_null(&to_s);
    ngx_str_null(&top_s);

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        eq = ngx_strlchr(p, amp, '=');

        name.data = p;
        name.len = (eq ? eq : amp) - p;

        value.data = eq ? eq + 1 : amp;
        value.len = amp - value.data;

        p = amp + 1;

        if (name.len == 0) {
            continue;
        }

        if (name.len == 3 && ngx_strncmp(name.data, "api", 3) == 0) {
            s = &q->api;

        } else if (name.len == 8
                   && ngx_strncmp(name.data, "consumer", 8) == 0)
        {
            s = &q->consumer;

        } else if (name.len == 4 && ngx_strncmp(name.data, "plan", 4) == 0) {
            s = &q->plan;

        } else if (name.len == 4 && ngx_strncmp(name.data, "from", 4) == 0) {
            s = &from_s;

        } else if (name.len == 2 && ngx_strncmp(name.data, "to", 2) == 0) {
            s = &to_s;

        } else if (name.len == 11
                   && ngx_strncmp(name.data, "granularity", 11) == 0)
        {
            s = &q->granularity;

        } else if (name.len == 3 && ngx_strncmp(name.data, "top", 3) == 0) {
            s = &top_s;

        } else {
            s = NULL;
        }

        /* the name, for a message; the request's own text stays as is */

        dst = ngx_pnalloc(r->pool, name.len + 1);
        if (dst == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < name.len; i++) {
            dst[i] = (name.data[i] > 0x20 && name.data[i] < 0x7f
                      && name.data[i] != '"')
                     ? name.data[i] : '?';
        }

        dst[name.len] = '\0';
        name.data = dst;

        if (s == NULL) {
            return ngx_http_apim_query_bad(r, q, (char *) name.data,
                                           "is not one of api, consumer, "
                                           "plan, from, to, granularity "
                                           "and top");
        }

        if (s->data) {
            return ngx_http_apim_query_bad(r, q, (char *) name.data,
                                           "is given twice");
        }

        dst = ngx_pnalloc(r->pool, value.len + 1);
        if (dst == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        s->data = dst;
        ngx_unescape_uri(&dst, &value.data, value.len, NGX_UNESCAPE_URI);
        s->len = dst - s->data;

        if ((s == &q->api || s == &q->consumer || s == &q->plan)
            && !ngx_apim_name_valid((char *) s->data, s->len))
        {
            return ngx_http_apim_query_bad(r, q, (char *) name.data,
                                           "must be a name of 1 to 64 "
                                           "characters of A-Z a-z 0-9 . _ -");
        }
    }

    if (q->granularity.data == NULL
        || (q->granularity.len == 6
            && ngx_strncmp(q->granularity.data, "minute", 6) == 0))
    {
        ngx_str_set(&q->granularity, "minute");
        q->db = NGX_APIM_ANALYTICS_MINUTE;
        q->step = 60;
        span = 3600;

    } else if (q->granularity.len == 4
               && ngx_strncmp(q->granularity.data, "hour", 4) == 0)
    {
        q->db = NGX_APIM_ANALYTICS_HOUR;
        q->step = 3600;
        span = 86400;

    } else if (q->granularity.len == 3
               && ngx_strncmp(q->granularity.data, "day", 3) == 0)
    {
        q->db = NGX_APIM_ANALYTICS_HOUR;
        q->step = 86400;
        span = 30 * 86400;

    } else {
        return ngx_http_apim_query_bad(r, q, "granularity",
                                       "must be minute, hour or day");
    }

    if (to_s.data) {
        to = ngx_http_apim_query_time(&to_s);
        if (to < 0) {
            return ngx_http_apim_query_bad(r, q, "to",
                                           "must be an RFC 3339 time, such "
                                           "as 2026-01-31T12:00:00Z, or "
                                           "seconds since the epoch");
        }

    } else {
        to = ngx_time();
    }

    if (from_s.data) {
        from = ngx_http_apim_query_time(&from_s);
        if (from < 0) {
            return ngx_http_apim_query_bad(r, q, "from",
                                           "must be an RFC 3339 time, such "
                                           "as 2026-01-31T12:00:00Z, or "
                                           "seconds since the epoch");
        }

        if (from > to) {
            return ngx_http_apim_query_bad(r, q, "from",
                                           "must not be later than \"to\"");
        }

    } else {
        from = (to > span) ? to - span : 0;
    }

    if (top_s.data) {
        n = ngx_atoi(top_s.data, top_s.len);

        if (n < 1 || n > NGX_HTTP_APIM_QUERY_TOP_MAX) {
            return ngx_http_apim_query_bad(r, q, "top",
                                           "must be a number from 1 to 100");
        }

        q->top = n;
    }

    q->from = from - from % q->step;
    q->to = to;

    return NGX_OK;
}


/* answers 400; NGX_DONE tells the caller that q->rc finalizes the request */

static ngx_int_t
ngx_http_apim_query_bad(ngx_http_request_t *r, ngx_http_apim_query_t *q,
    char *name, char *reason)
{
    u_char                   *p;
    size_t                    len;
    ngx_http_apim_problem_t   pr;

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    len = sizeof("The parameter \"\" .") + ngx_strlen(name)
          + ngx_strlen(reason);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pr.status = NGX_HTTP_BAD_REQUEST;
    ngx_str_set(&pr.title, "Bad Request");
    pr.detail.data = p;
    pr.detail.len = ngx_sprintf(p, "The parameter \"%s\" %s.", name, reason)
                    - p;

    q->rc = ngx_http_apim_problem_send(r, &pr);

    return NGX_DONE;
}


/*
 * RFC 3339: 2026-01-31T12:00:00Z, with optional fractions (ignored) and
 * an offset instead of Z; or a count of seconds since the epoch.  -1: bad.
 */

static int64_t
ngx_http_apim_query_time(ngx_str_t *s)
{
    u_char     *p, *last;
    int64_t     y, m, d, hh, mm, ss, off, era, yoe, doy, doe, days;
    ngx_uint_t  i;

    p = s->data;
    last = p + s->len;

    for (i = 0; i < s->len && p[i] >= '0' && p[i] <= '9'; i++) {
        /* void */
    }

    if (i == s->len) {
        return (s->len > 0 && s->len <= 11)
               ? (int64_t) ngx_atotm(p, s->len) : -1;
    }

    if (s->len < 20
        || p[4] != '-' || p[7] != '-'
        || (p[10] != 'T' && p[10] != 't')
        || p[13] != ':' || p[16] != ':')
    {
        return -1;
    }

    y = ngx_http_apim_query_digits(p, 4);
    m = ngx_http_apim_query_digits(p + 5, 2);
    d = ngx_http_apim_query_digits(p + 8, 2);
    hh = ngx_http_apim_query_digits(p + 11, 2);
    mm = ngx_http_apim_query_digits(p + 14, 2);
    ss = ngx_http_apim_query_digits(p + 17, 2);

    if (y < 1970 || m < 1 || m > 12 || d < 1
        || d > ngx_http_apim_query_mdays[m - 1]
               + (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
    {
        return -1;
    }

    p += 19;

    if (*p == '.') {
        for (p++; p < last && *p >= '0' && *p <= '9'; p++) { /* void */ }
    }

    if (p < last && (*p == 'Z' || *p == 'z') && p + 1 == last) {
        off = 0;

    } else if (last - p == 6 && (*p == '+' || *p == '-') && p[3] == ':') {
        off = ngx_http_apim_query_digits(p + 1, 2) * 3600
              + ngx_http_apim_query_digits(p + 4, 2) * 60;

        if (ngx_http_apim_query_digits(p + 1, 2) < 0
            || ngx_http_apim_query_digits(p + 4, 2) < 0)
        {
            return -1;
        }

        if (*p == '-') {
            off = -off;
        }

    } else {
        return -1;
    }

    /* days from the civil date, in the proleptic Gregorian calendar */

    y -= (m <= 2);
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;

    return days * 86400 + hh * 3600 + mm * 60 + ss - off;
}


static ngx_int_t
ngx_http_apim_query_digits(u_char *p, ngx_uint_t n)
{
    ngx_int_t   v;
    ngx_uint_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1000000;
        }

        v = v * 10 + (p[i] - '0');
    }

    return v;
}


/* one bucket of the walk: NGX_APIM_STORE_NOT_FOUND ends it */

static int
ngx_http_apim_query_record(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data)
{
    ngx_http_apim_query_t *q = data;

    int64_t                        t, errors;
    ngx_apim_analytics_key_t       k;
    ngx_apim_analytics_counts_t    c;
    ngx_http_apim_query_point_t   *pt;
    ngx_http_apim_query_party_t   *party;

    if (key->len < 1 || ((u_char *) key->data)[0] != q->db) {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    if (ngx_apim_analytics_key_decode(&k, key->data, key->len) != 0
        || ngx_apim_analytics_rec_decode(&c, val->data, val->len) != 0)
    {
        /* damaged: skipped, and removed with its age */
        return NGX_APIM_STORE_OK;
    }

    if (k.start > q->to) {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    if ((q->api.data
         && (k.api.len != q->api.len
             || ngx_memcmp(k.api.data, q->api.data, q->api.len) != 0))
        || (q->consumer.data
            && (k.consumer.len != q->consumer.len
                || ngx_memcmp(k.consumer.data, q->consumer.data,
                              q->consumer.len) != 0))
        || (q->plan.data
            && (k.plan.len != q->plan.len
                || ngx_memcmp(k.plan.data, q->plan.data, q->plan.len) != 0)))
    {
        return NGX_APIM_STORE_OK;
    }

    t = k.start - k.start % q->step;

    pt = q->points.nelts
         ? (ngx_http_apim_query_point_t *) q->points.elts
           + q->points.nelts - 1
         : NULL;

    if (pt == NULL || pt->time != t) {
        pt = ngx_array_push(&q->points);
        if (pt == NULL) {
            q->failed = 1;
            return NGX_APIM_STORE_EXISTS;
        }

        ngx_memzero(pt, sizeof(ngx_http_apim_query_point_t));
        pt->time = t;
    }

    ngx_apim_analytics_add(&pt->counts, &c);
    pt->classes[k.status_class] += c.requests;

    ngx_apim_analytics_add(&q->totals.counts, &c);
    q->totals.classes[k.status_class] += c.requests;

    errors = (k.status_class >= 4) ? c.requests : 0;

    party = ngx_http_apim_query_party(q, &k.api, NULL);
    if (party == NULL) {
        return NGX_APIM_STORE_EXISTS;
    }

    party->requests += c.requests;
    party->errors += errors;

    if (k.consumer.len) {
        party = ngx_http_apim_query_party(q, &k.api, &k.consumer);
        if (party == NULL) {
            return NGX_APIM_STORE_EXISTS;
        }

        party->requests += c.requests;
        party->errors += errors;
    }

    return NGX_APIM_STORE_OK;
}


static ngx_http_apim_query_party_t *
ngx_http_apim_query_party(ngx_http_apim_query_t *q, ngx_apim_str_t *api,
    ngx_apim_str_t *consumer)
{
    u_char                        sep;
    size_t                        clen;
    uint32_t                      hash;
    ngx_http_apim_query_party_t  *p, **pp;

    clen = consumer ? consumer->len : 0;
    sep = 0;

    ngx_crc32_init(hash);
    ngx_crc32_update(&hash, (u_char *) api->data, api->len);
    ngx_crc32_update(&hash, &sep, 1);

    if (clen) {
        ngx_crc32_update(&hash, (u_char *) consumer->data, clen);
    }

    ngx_crc32_final(hash);

    for (p = q->hash[hash % NGX_HTTP_APIM_QUERY_HASH]; p; p = p->next) {
        if (p->hash == hash
            && p->api.len == api->len
            && p->consumer.len == clen
            && ngx_memcmp(p->api.data, api->data, api->len) == 0
            && (clen == 0
                || ngx_memcmp(p->consumer.data, consumer->data, clen) == 0))
        {
            return p;
        }
    }

    p = ngx_pcalloc(q->pool, sizeof(ngx_http_apim_query_party_t)
                             + api->len + clen);
    pp = ngx_array_push(&q->parties);

    if (p == NULL || pp == NULL) {
        q->failed = 1;
        return NULL;
    }

    *pp = p;

    p->hash = hash;
    p->api.data = (u_char *) (p + 1);
    p->api.len = api->len;
    ngx_memcpy(p->api.data, api->data, api->len);

    p->consumer.data = p->api.data + api->len;
    p->consumer.len = clen;

    if (clen) {
        ngx_memcpy(p->consumer.data, consumer->data, clen);
    }

    p->next = q->hash[hash % NGX_HTTP_APIM_QUERY_HASH];
    q->hash[hash % NGX_HTTP_APIM_QUERY_HASH] = p;

    return p;
}


/* by API; the API itself first, then its consumers, most requests first */

static int
ngx_http_apim_query_cmp(const void *one, const void *two)
{
    ngx_http_apim_query_party_t  *a = *(ngx_http_apim_query_party_t **) one;
    ngx_http_apim_query_party_t  *b = *(ngx_http_apim_query_party_t **) two;

    ngx_int_t  rc;

    rc = ngx_memn2cmp(a->api.data, b->api.data, a->api.len, b->api.len);

    if (rc) {
        return rc;
    }

    if ((a->consumer.len == 0) != (b->consumer.len == 0)) {
        return a->consumer.len == 0 ? -1 : 1;
    }

    if (a->requests != b->requests) {
        return a->requests > b->requests ? -1 : 1;
    }

    return ngx_memn2cmp(a->consumer.data, b->consumer.data, a->consumer.len,
                        b->consumer.len);
}


static ngx_int_t
ngx_http_apim_query_json(yajl_gen g, ngx_http_apim_query_t *q)
{
    ngx_uint_t                     i, n, open;
    ngx_http_apim_query_party_t  **pp;
    ngx_http_apim_query_point_t   *pt;

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_str(g, "granularity", &q->granularity)
           != NGX_OK
        || ngx_http_apim_query_timestr(g, "from", q->from) != NGX_OK
        || ngx_http_apim_query_timestr(g, "to", q->to) != NGX_OK
        || ngx_http_apim_json_key(g, "filter") != NGX_OK
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_opt(g, "api", &q->api) != NGX_OK
        || ngx_http_apim_json_opt(g, "consumer", &q->consumer) != NGX_OK
        || ngx_http_apim_json_opt(g, "plan", &q->plan) != NGX_OK
        || yajl_gen_map_close(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "totals") != NGX_OK
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_query_counts(g, &q->totals) != NGX_OK
        || yajl_gen_map_close(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "series") != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    pt = q->points.elts;

    for (i = 0; i < q->points.nelts; i++) {
        if (yajl_gen_map_open(g) != yajl_gen_status_ok
            || ngx_http_apim_query_timestr(g, "time", pt[i].time) != NGX_OK
            || ngx_http_apim_query_counts(g, &pt[i]) != NGX_OK
            || yajl_gen_map_close(g) != yajl_gen_status_ok)
        {
            return NGX_ERROR;
        }
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "apis") != NGX_OK
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    pp = q->parties.elts;

    ngx_qsort(pp, q->parties.nelts, sizeof(ngx_http_apim_query_party_t *),
              ngx_http_apim_query_cmp);

    open = 0;
    n = 0;

    for (i = 0; i < q->parties.nelts; i++) {

        if (pp[i]->consumer.len == 0) {

            /* a new API: close the last one */

            if (open
                && (yajl_gen_array_close(g) != yajl_gen_status_ok
                    || yajl_gen_map_close(g) != yajl_gen_status_ok))
            {
                return NGX_ERROR;
            }

            if (yajl_gen_map_open(g) != yajl_gen_status_ok
                || ngx_http_apim_query_party_json(g, pp[i], 0) != NGX_OK
                || ngx_http_apim_json_key(g, "top_consumers") != NGX_OK
                || yajl_gen_array_open(g) != yajl_gen_status_ok)
            {
                return NGX_ERROR;
            }

            open = 1;
            n = 0;
            continue;
        }

        if (n++ >= q->top) {
            continue;
        }

        if (yajl_gen_map_open(g) != yajl_gen_status_ok
            || ngx_http_apim_query_party_json(g, pp[i], 1) != NGX_OK
            || yajl_gen_map_close(g) != yajl_gen_status_ok)
        {
            return NGX_ERROR;
        }
    }

    if (open
        && (yajl_gen_array_close(g) != yajl_gen_status_ok
            || yajl_gen_map_close(g) != yajl_gen_status_ok))
    {
        return NGX_ERROR;
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_query_counts(yajl_gen g, ngx_http_apim_query_point_t *pt)
{
    u_char                        buf[NGX_INT64_LEN + 1];
    int64_t                       errors, sum;
    ngx_uint_t                    i;
    ngx_apim_analytics_counts_t  *c;

    c = &pt->counts;
    errors = pt->classes[4] + pt->classes[5];

    if (ngx_http_apim_json_int(g, "requests", c->requests) != NGX_OK
        || ngx_http_apim_json_int(g, "errors", errors) != NGX_OK
        || ngx_http_apim_query_rate(g, "error_rate", errors, c->requests,
                                    "%.4f")
           != NGX_OK
        || ngx_http_apim_json_int(g, "bytes_in", c->bytes_in) != NGX_OK
        || ngx_http_apim_json_int(g, "bytes_out", c->bytes_out) != NGX_OK
        || ngx_http_apim_json_int(g, "latency_ms_sum", c->latency_ms)
           != NGX_OK
        || ngx_http_apim_query_rate(g, "latency_ms_avg", c->latency_ms,
                                    c->requests, "%.3f")
           != NGX_OK
        || ngx_http_apim_json_key(g, "status") != NGX_OK
        || yajl_gen_map_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    for (i = 1; i <= NGX_APIM_ANALYTICS_CLASSES; i++) {

        /* 1xx .. 5xx, then other */

        if (ngx_http_apim_json_int(g,
                              ngx_apim_analytics_classes[i
                                             % NGX_APIM_ANALYTICS_CLASSES],
                              pt->classes[i % NGX_APIM_ANALYTICS_CLASSES])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (yajl_gen_map_close(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "rejections") != NGX_OK
        || yajl_gen_map_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_APIM_ANALYTICS_REASONS; i++) {
        if (ngx_http_apim_json_int(g, ngx_apim_analytics_reasons[i],
                                   c->rejected[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (yajl_gen_map_close(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "latency_ms_buckets") != NGX_OK
        || yajl_gen_map_open(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    /* cumulative, as Prometheus has them: requests at most "le" ms */

    sum = 0;

    for (i = 0; i < NGX_APIM_ANALYTICS_BUCKETS; i++) {
        sum += c->latency[i];

        if (i < NGX_APIM_ANALYTICS_BUCKETS - 1) {
            *ngx_sprintf(buf, "%L", ngx_apim_analytics_le_ms[i]) = '\0';

        } else {
            ngx_cpystrn(buf, (u_char *) "+Inf", sizeof(buf));
        }

        if (ngx_http_apim_json_int(g, (char *) buf, sum) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (yajl_gen_map_close(g) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_query_party_json(yajl_gen g, ngx_http_apim_query_party_t *p,
    ngx_uint_t consumer)
{
    if (ngx_http_apim_json_str(g, consumer ? "consumer" : "api",
                               consumer ? &p->consumer : &p->api)
        != NGX_OK
        || ngx_http_apim_json_int(g, "requests", p->requests) != NGX_OK
        || ngx_http_apim_json_int(g, "errors", p->errors) != NGX_OK
        || ngx_http_apim_query_rate(g, "error_rate", p->errors, p->requests,
                                    "%.4f")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* part / whole as a decimal number; 0 when whole is 0 */

static ngx_int_t
ngx_http_apim_query_rate(yajl_gen g, const char *name, int64_t part,
    int64_t whole, const char *fmt)
{
    u_char  *p, buf[64];
    double   v;

    v = whole ? (double) part / (double) whole : 0.0;

    p = ngx_snprintf(buf, sizeof(buf), fmt, v);

    if (ngx_http_apim_json_key(g, name) != NGX_OK
        || yajl_gen_number(g, (char *) buf, p - buf) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* an RFC 3339 time, the catalogue's form; the epoch too (not null) */

static ngx_int_t
ngx_http_apim_query_timestr(yajl_gen g, const char *name, int64_t t)
{
    u_char     buf[NGX_HTTP_APIM_TIME_LEN];
    ngx_str_t  s;

    s.data = buf;
    s.len = ngx_http_apim_time_format(buf, (time_t) t) - buf;

    return ngx_http_apim_json_str(g, name, &s);
}
