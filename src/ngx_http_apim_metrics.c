
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Prometheus metrics: the analytics zone's counts since the zone was made
 * (minute nodes and series totals summed, so counters never go back while
 * nginx runs; a restart starts them again from zero, which Prometheus
 * reads as a counter reset), and the store's size, in the text exposition
 * format 0.0.4.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_analytics_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_analytics.h"
#include "ngx_http_apim_metrics.h"


#define NGX_HTTP_APIM_METRICS_API       0x01
#define NGX_HTTP_APIM_METRICS_PLAN      0x02
#define NGX_HTTP_APIM_METRICS_CONSUMER  0x04
#define NGX_HTTP_APIM_METRICS_CLASS     0x08

#define NGX_HTTP_APIM_METRICS_LINE      1024   /* at most, a sample line */
#define NGX_HTTP_APIM_METRICS_BUF       65536


typedef struct {
    ngx_pool_t                       *pool;
    ngx_chain_t                      *out;
    ngx_chain_t                     **last;
    ngx_buf_t                        *b;
    off_t                             len;
} ngx_http_apim_metrics_out_t;


static ngx_int_t ngx_http_apim_metrics_requests(
    ngx_http_apim_metrics_out_t *o, ngx_http_apim_analytics_item_t **it,
    ngx_uint_t n, ngx_uint_t labels);
static u_char *ngx_http_apim_metrics_room(ngx_http_apim_metrics_out_t *o);
static u_char *ngx_http_apim_metrics_sample(ngx_http_apim_metrics_out_t *o,
    char *name, ngx_http_apim_analytics_item_t *it, ngx_uint_t labels);
static u_char *ngx_http_apim_metrics_labels(u_char *p,
    ngx_http_apim_analytics_item_t *it, ngx_uint_t labels);
static u_char *ngx_http_apim_metrics_escape(u_char *p, ngx_str_t *s);
static u_char *ngx_http_apim_metrics_seconds(u_char *p, int64_t ms);
static ngx_uint_t ngx_http_apim_metrics_same(
    ngx_http_apim_analytics_item_t *a, ngx_http_apim_analytics_item_t *b,
    ngx_uint_t labels);
static int ngx_http_apim_metrics_cmp(const void *one, const void *two);
static ngx_int_t ngx_http_apim_metrics_store(ngx_http_apim_metrics_out_t *o);


static ngx_str_t  ngx_http_apim_metrics_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");

/* the sort order: consumer before plan when it is a label */
static ngx_uint_t  ngx_http_apim_metrics_by_consumer;


ngx_int_t
ngx_http_apim_metrics_send(ngx_http_request_t *r, ngx_uint_t consumer_label)
{
    u_char                           *p;
    uint64_t                          dropped;
    ngx_int_t                         rc;
    ngx_uint_t                        labels, i;
    ngx_array_t                       items;
    ngx_shm_zone_t                   *zone;
    ngx_http_apim_metrics_out_t       o;
    ngx_http_apim_analytics_item_t   *item, **sorted;

    rc = ngx_http_apim_problem_method(r, "The metrics endpoint answers GET "
                                         "and HEAD.");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    ngx_memzero(&o, sizeof(ngx_http_apim_metrics_out_t));
    o.pool = r->pool;
    o.last = &o.out;

    zone = ngx_http_apim_analytics_zone();

    if (zone) {
        if (ngx_http_apim_analytics_snapshot(zone, r->pool, &items, &dropped)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        labels = NGX_HTTP_APIM_METRICS_API|NGX_HTTP_APIM_METRICS_PLAN;

        if (consumer_label) {
            labels |= NGX_HTTP_APIM_METRICS_CONSUMER;
        }

        /* items point into themselves: they are sorted by reference */

        sorted = ngx_palloc(r->pool,
                            (items.nelts + 1) * sizeof(sorted[0]));
        if (sorted == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        item = items.elts;

        for (i = 0; i < items.nelts; i++) {
            sorted[i] = &item[i];
        }

        ngx_http_apim_metrics_by_consumer = consumer_label;

        ngx_qsort(sorted, items.nelts,
                  sizeof(ngx_http_apim_analytics_item_t *),
                  ngx_http_apim_metrics_cmp);

        if (ngx_http_apim_metrics_requests(&o, sorted, items.nelts, labels)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_http_apim_metrics_room(&o);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        o.b->last = ngx_sprintf(p,
                        "# HELP apim_analytics_dropped_total Requests not "
                        "counted because the analytics zone was full.\n"
                        "# TYPE apim_analytics_dropped_total counter\n"
                        "apim_analytics_dropped_total %uL\n", dropped);
    }

    if (ngx_http_apim_metrics_store(&o) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    o.b->last_buf = (r == r->main) ? 1 : 0;
    o.b->last_in_chain = 1;

    for (o.len = 0, o.last = &o.out; *o.last; o.last = &(*o.last)->next) {
        o.len += (*o.last)->buf->last - (*o.last)->buf->pos;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ngx_http_apim_metrics_type;
    r->headers_out.content_type_len = ngx_http_apim_metrics_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = o.len;

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, o.out);
}


/*
 * The request families, each a walk over the sorted items, summing the
 * runs of items that carry the same labels.
 */

static ngx_int_t
ngx_http_apim_metrics_requests(ngx_http_apim_metrics_out_t *o,
    ngx_http_apim_analytics_item_t **it, ngx_uint_t nitems,
    ngx_uint_t labels)
{
    u_char                          *p;
    int64_t                          n, cum;
    ngx_uint_t                       i, j, k, f, rl;
    ngx_apim_analytics_counts_t      c;

    static const char  *help[] = {
        "# HELP apim_requests_total Requests to APIs, by status class.\n"
        "# TYPE apim_requests_total counter\n",
        "# HELP apim_request_duration_seconds Time to serve a request, from "
        "its first byte read to its last byte sent.\n"
        "# TYPE apim_request_duration_seconds histogram\n",
        "# HELP apim_request_bytes_total Bytes received in requests to APIs, "
        "headers included.\n"
        "# TYPE apim_request_bytes_total counter\n",
        "# HELP apim_response_bytes_total Bytes sent in responses of APIs, "
        "headers included.\n"
        "# TYPE apim_response_bytes_total counter\n",
        "# HELP apim_rejections_total Requests the gateway refused or could "
        "not check, by reason ($apim_status).\n"
        "# TYPE apim_rejections_total counter\n"
    };

    /* rejections are by API (and consumer), not by plan */
    rl = labels & ~NGX_HTTP_APIM_METRICS_PLAN;

    for (f = 0; f < 5; f++) {

        p = ngx_http_apim_metrics_room(o);
        if (p == NULL) {
            return NGX_ERROR;
        }

        o->b->last = ngx_cpymem(p, help[f], ngx_strlen(help[f]));

        for (i = 0; i < nitems; i = j) {

            ngx_memzero(&c, sizeof(ngx_apim_analytics_counts_t));

            for (j = i;
                 j < nitems
                 && ngx_http_apim_metrics_same(it[i], it[j],
                                               f == 0
                                               ? labels
                                                 | NGX_HTTP_APIM_METRICS_CLASS
                                               : (f == 4 ? rl : labels));
                 j++)
            {
                ngx_apim_analytics_add(&c, &it[j]->counts);
            }

            switch (f) {

            case 0:
                p = ngx_http_apim_metrics_sample(o, "apim_requests_total{",
                                                 it[i], labels);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                o->b->last = ngx_sprintf(p, ",status=\"%s\"} %L\n",
                                         ngx_apim_analytics_classes[
                                             it[i]->status_class],
                                         c.requests);
                break;

            case 1:
                cum = 0;

                for (k = 0; k < NGX_APIM_ANALYTICS_BUCKETS; k++) {
                    p = ngx_http_apim_metrics_sample(o,
                                     "apim_request_duration_seconds_bucket{",
                                     it[i], labels);
                    if (p == NULL) {
                        return NGX_ERROR;
                    }

                    cum += c.latency[k];

                    p = ngx_cpymem(p, ",le=\"", sizeof(",le=\"") - 1);

                    if (k < NGX_APIM_ANALYTICS_BUCKETS - 1) {
                        p = ngx_http_apim_metrics_seconds(p,
                                                 ngx_apim_analytics_le_ms[k]);

                    } else {
                        p = ngx_cpymem(p, "+Inf", 4);
                    }

                    o->b->last = ngx_sprintf(p, "\"} %L\n", cum);
                }

                p = ngx_http_apim_metrics_sample(o,
                                        "apim_request_duration_seconds_sum{",
                                        it[i], labels);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                p = ngx_cpymem(p, "} ", 2);
                p = ngx_http_apim_metrics_seconds(p, c.latency_ms);
                *p++ = '\n';
                o->b->last = p;

                p = ngx_http_apim_metrics_sample(o,
                                      "apim_request_duration_seconds_count{",
                                      it[i], labels);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                o->b->last = ngx_sprintf(p, "} %L\n", c.requests);
                break;

            case 2:
            case 3:
                p = ngx_http_apim_metrics_sample(o,
                                      f == 2 ? "apim_request_bytes_total{"
                                             : "apim_response_bytes_total{",
                                      it[i], labels);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                o->b->last = ngx_sprintf(p, "} %L\n",
                                         f == 2 ? c.bytes_in : c.bytes_out);
                break;

            default: /* 4 */

                for (k = 0; k < NGX_APIM_ANALYTICS_REASONS; k++) {
                    n = c.rejected[k];

                    if (n == 0) {
                        continue;
                    }

                    p = ngx_http_apim_metrics_sample(o,
                                                     "apim_rejections_total{",
                                                     it[i], rl);
                    if (p == NULL) {
                        return NGX_ERROR;
                    }

                    o->b->last = ngx_sprintf(p, ",reason=\"%s\"} %L\n",
                                             ngx_apim_analytics_reasons[k],
                                             n);
                }
            }
        }
    }

    return NGX_OK;
}


/* room for one line at the end of the output, in a new buffer if need be */

static u_char *
ngx_http_apim_metrics_room(ngx_http_apim_metrics_out_t *o)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (o->b && o->b->end - o->b->last >= NGX_HTTP_APIM_METRICS_LINE) {
        return o->b->last;
    }

    b = ngx_create_temp_buf(o->pool, NGX_HTTP_APIM_METRICS_BUF);
    cl = ngx_alloc_chain_link(o->pool);

    if (b == NULL || cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    *o->last = cl;
    o->last = &cl->next;
    o->b = b;

    return b->last;
}


/* a sample's line up to its labels: room for the line, its name, labels */

static u_char *
ngx_http_apim_metrics_sample(ngx_http_apim_metrics_out_t *o, char *name,
    ngx_http_apim_analytics_item_t *it, ngx_uint_t labels)
{
    u_char  *p;

    p = ngx_http_apim_metrics_room(o);
    if (p == NULL) {
        return NULL;
    }

    p = ngx_cpymem(p, name, ngx_strlen(name));

    return ngx_http_apim_metrics_labels(p, it, labels);
}


static u_char *
ngx_http_apim_metrics_labels(u_char *p, ngx_http_apim_analytics_item_t *it,
    ngx_uint_t labels)
{
    p = ngx_cpymem(p, "api=\"", sizeof("api=\"") - 1);
    p = ngx_http_apim_metrics_escape(p, &it->api);
    *p++ = '"';

    if (labels & NGX_HTTP_APIM_METRICS_CONSUMER) {
        p = ngx_cpymem(p, ",consumer=\"", sizeof(",consumer=\"") - 1);
        p = ngx_http_apim_metrics_escape(p, &it->consumer);
        *p++ = '"';
    }

    if (labels & NGX_HTTP_APIM_METRICS_PLAN) {
        p = ngx_cpymem(p, ",plan=\"", sizeof(",plan=\"") - 1);
        p = ngx_http_apim_metrics_escape(p, &it->plan);
        *p++ = '"';
    }

    return p;
}


/* a label value: backslash, double quote and newline escaped */

static u_char *
ngx_http_apim_metrics_escape(u_char *p, ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        switch (s->data[i]) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = s->data[i];
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = s->data[i];
        }
    }

    return p;
}


/* milliseconds as seconds, with no trailing zeros: 2500 is "2.5" */

static u_char *
ngx_http_apim_metrics_seconds(u_char *p, int64_t ms)
{
    int64_t  frac;

    p = ngx_sprintf(p, "%L", ms / 1000);

    frac = ms % 1000;

    if (frac == 0) {
        return p;
    }

    p = ngx_sprintf(p, ".%03L", frac);

    while (p[-1] == '0') {
        p--;
    }

    return p;
}


static ngx_uint_t
ngx_http_apim_metrics_same(ngx_http_apim_analytics_item_t *a,
    ngx_http_apim_analytics_item_t *b, ngx_uint_t labels)
{
    if (((labels & NGX_HTTP_APIM_METRICS_API)
         && (a->api.len != b->api.len
             || ngx_memcmp(a->api.data, b->api.data, a->api.len) != 0))
        || ((labels & NGX_HTTP_APIM_METRICS_PLAN)
            && (a->plan.len != b->plan.len
                || ngx_memcmp(a->plan.data, b->plan.data, a->plan.len) != 0))
        || ((labels & NGX_HTTP_APIM_METRICS_CONSUMER)
            && (a->consumer.len != b->consumer.len
                || ngx_memcmp(a->consumer.data, b->consumer.data,
                              a->consumer.len) != 0))
        || ((labels & NGX_HTTP_APIM_METRICS_CLASS)
            && a->status_class != b->status_class))
    {
        return 0;
    }

    return 1;
}


/*
 * api, then consumer, plan, class when the consumer is a label; else api,
 * plan, class, consumer: every family's label set is then a run of items
 */

static int
ngx_http_apim_metrics_cmp(const void *one, const void *two)
{
    ngx_http_apim_analytics_item_t  *a, *b;

    ngx_int_t  rc;

    a = *(ngx_http_apim_analytics_item_t **) one;
    b = *(ngx_http_apim_analytics_item_t **) two;

    rc = ngx_memn2cmp(a->api.data, b->api.data, a->api.len, b->api.len);

    if (rc == 0 && ngx_http_apim_metrics_by_consumer) {
        rc = ngx_memn2cmp(a->consumer.data, b->consumer.data,
                          a->consumer.len, b->consumer.len);
    }

    if (rc == 0) {
        rc = ngx_memn2cmp(a->plan.data, b->plan.data, a->plan.len,
                          b->plan.len);
    }

    if (rc == 0) {
        rc = (ngx_int_t) a->status_class - (ngx_int_t) b->status_class;
    }

    if (rc == 0 && !ngx_http_apim_metrics_by_consumer) {
        rc = ngx_memn2cmp(a->consumer.data, b->consumer.data,
                          a->consumer.len, b->consumer.len);
    }

    return (int) rc;
}


/* the store's gauges; apim_store_up 0 when it cannot be read */

static ngx_int_t
ngx_http_apim_metrics_store(ngx_http_apim_metrics_out_t *o)
{
    u_char            *p;
    size_t             keys;
    ngx_apim_store_t  *st;

    p = ngx_http_apim_metrics_room(o);
    if (p == NULL) {
        return NGX_ERROR;
    }

    st = ngx_http_apim_store();

    if (st == NULL || ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        if (st) {
            ngx_http_apim_store_error(ngx_cycle->log, st);
        }

        o->b->last = ngx_sprintf(p, "# HELP apim_store_up Whether the store "
                                 "could be read.\n"
                                 "# TYPE apim_store_up gauge\n"
                                 "apim_store_up 0\n");
        return NGX_OK;
    }

    if (ngx_apim_store_stat(st, NGX_APIM_DB_KEYS, &keys)
        != NGX_APIM_STORE_OK)
    {
        ngx_apim_store_read_end(st);
        ngx_http_apim_store_error(ngx_cycle->log, st);

        o->b->last = ngx_sprintf(p, "# HELP apim_store_up Whether the store "
                                 "could be read.\n"
                                 "# TYPE apim_store_up gauge\n"
                                 "apim_store_up 0\n");
        return NGX_OK;
    }

    o->b->last = ngx_sprintf(p,
                     "# HELP apim_store_up Whether the store could be read.\n"
                     "# TYPE apim_store_up gauge\n"
                     "apim_store_up 1\n"
                     "# HELP apim_keys API keys in the store.\n"
                     "# TYPE apim_keys gauge\n"
                     "apim_keys %uz\n"
                     "# HELP apim_store_bytes Bytes of the store in use.\n"
                     "# TYPE apim_store_bytes gauge\n"
                     "apim_store_bytes %uz\n"
                     "# HELP apim_store_map_bytes Bytes of the store's "
                     "memory map.\n"
                     "# TYPE apim_store_map_bytes gauge\n"
                     "apim_store_map_bytes %uz\n",
                     keys, ngx_apim_store_used(st), st->map_size);

    ngx_apim_store_read_end(st);

    return NGX_OK;
}
