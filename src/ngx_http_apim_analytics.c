
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Analytics counting: every request of an API is counted in the log phase
 * into a shared zone of fixed-size nodes, one per (api, consumer, plan,
 * status class, minute), under one lock, with no allocation.  Each series
 * also has a total node (minute 0) that only grows, for the metrics
 * endpoint.  One worker moves the minute nodes' counts into the store on a
 * timer (and every worker as it exits), into minute and hour buckets of
 * the "analytics" sub-database, then removes buckets past their
 * retention.  A count moves from its minute node to its series' total
 * under the lock, so that a sum over all nodes never goes back.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_analytics_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_analytics.h"


#define NGX_HTTP_APIM_ANALYTICS_NONE       0xffffffff
#define NGX_HTTP_APIM_ANALYTICS_NAMES      (3 * NGX_APIM_ANALYTICS_NAME_MAX)
#define NGX_HTTP_APIM_ANALYTICS_BATCH      256
#define NGX_HTTP_APIM_ANALYTICS_EXPIRE     1024
#define NGX_HTTP_APIM_ANALYTICS_MINUTES    3600     /* minute buckets kept */
#define NGX_HTTP_APIM_ANALYTICS_IDLE       60       /* minutes, see flush */
#define NGX_HTTP_APIM_ANALYTICS_FLUSH      10000
#define NGX_HTTP_APIM_ANALYTICS_RETENTION  (30 * 86400)
#define NGX_HTTP_APIM_ANALYTICS_SIZE       (8 * 1024 * 1024)
#define NGX_HTTP_APIM_ANALYTICS_MIN_SIZE   (64 * 1024)

/* odd 64-bit multipliers for the series hash (splitmix64's) */
#define NGX_HTTP_APIM_ANALYTICS_MUL        0x9e3779b97f4a7c15ULL
#define NGX_HTTP_APIM_ANALYTICS_MUL2       0xbf58476d1ce4e5b9ULL


typedef struct {
    uint32_t                         next;      /* in a bucket, or free */
    uint32_t                         total;     /* the series' total node */
    uint32_t                         hash;
    uint32_t                         minute;    /* 0: a series' total */
    uint32_t                         refs;      /* a total's minute nodes */
    uint32_t                         last;      /* a total's last minute */
    u_char                           used;
    u_char                           status_class;
    u_char                           api_len;
    u_char                           consumer_len;
    u_char                           plan_len;
    u_char                           names[NGX_HTTP_APIM_ANALYTICS_NAMES];
    ngx_apim_analytics_counts_t      counts;
} ngx_http_apim_analytics_node_t;


typedef struct {
    uint32_t                         nodes;
    uint32_t                         used;
    uint32_t                         free;
    uint32_t                         mask;      /* buckets - 1 */
    uint64_t                         dropped;
    ngx_uint_t                       full;      /* a drop was logged */
    uint32_t                        *buckets;
    ngx_http_apim_analytics_node_t  *node;
} ngx_http_apim_analytics_sh_t;


typedef struct {
    ngx_http_apim_analytics_sh_t    *sh;
    ngx_slab_pool_t                 *shpool;
    ngx_http_apim_analytics_conf_t  *conf;
} ngx_http_apim_analytics_ctx_t;


/* a series and minute, as looked up */

typedef struct {
    ngx_str_t                      api;
    ngx_str_t                      consumer;
    ngx_str_t                      plan;
    ngx_uint_t                     status_class;
    uint32_t                       minute;
    uint32_t                       hash;
} ngx_http_apim_analytics_id_t;


typedef struct {
    ngx_http_apim_analytics_id_t   id;
    u_char                         names[NGX_HTTP_APIM_ANALYTICS_NAMES];
    ngx_apim_analytics_counts_t    counts;
} ngx_http_apim_analytics_entry_t;


typedef struct {
    ngx_http_apim_analytics_entry_t  *entries;
    ngx_uint_t                        n;
} ngx_http_apim_analytics_batch_t;


typedef struct {
    int64_t                        minutes;   /* last start to remove */
    int64_t                        hours;
    ngx_uint_t                     removed;
} ngx_http_apim_analytics_expiry_t;


static ngx_int_t ngx_http_apim_analytics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_apim_analytics_hash(ngx_http_apim_analytics_id_t *id);
static ngx_inline uint64_t ngx_http_apim_analytics_mix(uint64_t h, u_char *p,
    size_t len);
static ngx_http_apim_analytics_node_t *ngx_http_apim_analytics_lookup(
    ngx_http_apim_analytics_sh_t *sh, ngx_http_apim_analytics_id_t *id);
static ngx_inline ngx_uint_t ngx_http_apim_analytics_eq(u_char *a, u_char *b,
    size_t len);
static ngx_http_apim_analytics_node_t *ngx_http_apim_analytics_insert(
    ngx_http_apim_analytics_sh_t *sh, ngx_http_apim_analytics_id_t *id);
static ngx_http_apim_analytics_node_t *ngx_http_apim_analytics_create(
    ngx_http_apim_analytics_sh_t *sh, ngx_http_apim_analytics_id_t *id);
static void ngx_http_apim_analytics_free(ngx_http_apim_analytics_sh_t *sh,
    ngx_http_apim_analytics_node_t *node);
static void ngx_http_apim_analytics_names(ngx_http_apim_analytics_node_t *node,
    ngx_str_t *api, ngx_str_t *consumer, ngx_str_t *plan);
static int ngx_http_apim_analytics_write(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static void ngx_http_apim_analytics_restore(ngx_http_apim_analytics_ctx_t *ctx,
    ngx_http_apim_analytics_batch_t *batch);
static void ngx_http_apim_analytics_expire(ngx_http_apim_analytics_ctx_t *ctx,
    ngx_log_t *log);
static int ngx_http_apim_analytics_expire_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data);
static int ngx_http_apim_analytics_expire_db(ngx_apim_store_t *st,
    MDB_txn *txn, int granularity, int64_t last, ngx_uint_t *removed);
static void ngx_http_apim_analytics_flush_handler(ngx_event_t *ev);


static ngx_http_apim_analytics_entry_t  *ngx_http_apim_analytics_entries;
static ngx_pool_t                       *ngx_http_apim_analytics_pool;
static ngx_uint_t                        ngx_http_apim_analytics_pos;
static time_t                            ngx_http_apim_analytics_expired;
static ngx_event_t                       ngx_http_apim_analytics_flush_ev;


/* apim_analytics [flush=<time>] [retention=<time>] [zone=<size>] */

char *
ngx_http_apim_analytics_parse(ngx_conf_t *cf,
    ngx_http_apim_analytics_conf_t *acf)
{
    time_t       retention;
    ssize_t      size;
    ngx_str_t   *value, s;
    ngx_int_t    flush;
    ngx_uint_t   i;

    if (acf->enabled) {
        return "is duplicate";
    }

    value = cf->args->elts;

    acf->flush = NGX_HTTP_APIM_ANALYTICS_FLUSH;
    acf->retention = NGX_HTTP_APIM_ANALYTICS_RETENTION;
    acf->size = NGX_HTTP_APIM_ANALYTICS_SIZE;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "flush=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            flush = ngx_parse_time(&s, 0);

            if (flush == NGX_ERROR || flush < 10) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "apim_analytics: invalid flush interval "
                                   "\"%V\", it must be at least 10ms",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            acf->flush = (ngx_msec_t) flush;
            continue;
        }

        if (ngx_strncmp(value[i].data, "retention=", 10) == 0) {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            retention = ngx_parse_time(&s, 1);

            if (retention == (time_t) NGX_ERROR || retention < 3600) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "apim_analytics: invalid retention "
                                   "\"%V\", it must be at least 1h",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            acf->retention = retention;
            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || size < NGX_HTTP_APIM_ANALYTICS_MIN_SIZE) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "apim_analytics: invalid zone size "
                                   "\"%V\", it must be at least 64k",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            acf->size = (size_t) size;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apim_analytics: invalid parameter \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    acf->enabled = 1;

    return NGX_CONF_OK;
}


/* the shared zone "apim_analytics", kept across reloads of the same size */

ngx_int_t
ngx_http_apim_analytics_init_conf(ngx_conf_t *cf,
    ngx_http_apim_analytics_conf_t *acf, void *tag)
{
    ngx_str_t                       name;
    ngx_shm_zone_t                 *zone;
    ngx_http_apim_analytics_ctx_t  *ctx;

    ngx_str_set(&name, "apim_analytics");

    zone = ngx_shared_memory_add(cf, &name, acf->size, tag);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    ctx = zone->data;

    if (ctx == NULL) {
        ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_apim_analytics_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        zone->init = ngx_http_apim_analytics_init_zone;
        zone->data = ctx;
    }

    ctx->conf = acf;
    acf->zone = zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_analytics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apim_analytics_ctx_t  *octx = data;

    size_t                           len;
    uint32_t                         i, n, nb;
    ngx_slab_pool_t                 *shpool;
    ngx_http_apim_analytics_sh_t    *sh;
    ngx_http_apim_analytics_ctx_t   *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* a reload with the same zone: the counts go on */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    ctx->shpool = shpool;

    if (shm_zone->shm.exists) {
        ctx->sh = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_apim_analytics_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    len = sizeof(" in apim zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in apim zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* the sizes below are tried smaller until they fit: no log of that */

    shpool->log_nomem = 0;

    /* as many nodes as fit, with a power of two of buckets */

    n = (uint32_t) (shm_zone->shm.size / 16 * 15
                    / (sizeof(ngx_http_apim_analytics_node_t)
                       + 2 * sizeof(uint32_t)));

    for ( ;; ) {
        if (n < 16) {
            return NGX_ERROR;
        }

        for (nb = 1; nb * 2 <= n; nb *= 2) { /* void */ }

        sh->node = ngx_slab_alloc(shpool,
                                  n * sizeof(ngx_http_apim_analytics_node_t));
        sh->buckets = ngx_slab_alloc(shpool, nb * sizeof(uint32_t));

        if (sh->node && sh->buckets) {
            break;
        }

        if (sh->node) {
            ngx_slab_free(shpool, sh->node);
        }

        if (sh->buckets) {
            ngx_slab_free(shpool, sh->buckets);
        }

        n -= n / 8;
    }

    sh->nodes = n;
    sh->used = 0;
    sh->mask = nb - 1;
    sh->dropped = 0;
    sh->full = 0;

    for (i = 0; i < nb; i++) {
        sh->buckets[i] = NGX_HTTP_APIM_ANALYTICS_NONE;
    }

    for (i = 0; i < n; i++) {
        sh->node[i].used = 0;
        sh->node[i].next = (i + 1 < n) ? i + 1 : NGX_HTTP_APIM_ANALYTICS_NONE;
    }

    sh->free = 0;

    ctx->sh = sh;
    shpool->data = sh;

    return NGX_OK;
}


/*
 * The log phase: one hash, one lookup under the lock, a few additions.
 * A full zone drops the request and counts the drop.
 */

void
ngx_http_apim_analytics_count(ngx_shm_zone_t *zone,
    ngx_http_apim_analytics_req_t *req)
{
    ngx_uint_t                       b, full;
    ngx_apim_analytics_counts_t     *c;
    ngx_http_apim_analytics_id_t     id;
    ngx_http_apim_analytics_ctx_t   *ctx;
    ngx_http_apim_analytics_node_t  *node;

    ctx = zone->data;

    id.api = req->api;
    id.consumer = req->consumer;
    id.plan = req->plan;
    id.status_class = (req->status >= 100 && req->status < 600)
                      ? req->status / 100 : 0;
    id.minute = (uint32_t) (ngx_time() / 60);

    ngx_http_apim_analytics_hash(&id);

    b = ngx_apim_analytics_bucket(req->latency);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    node = ngx_http_apim_analytics_lookup(ctx->sh, &id);

    if (node == NULL) {
        node = ngx_http_apim_analytics_create(ctx->sh, &id);

        if (node == NULL) {
            ctx->sh->dropped++;
            full = ctx->sh->full;
            ctx->sh->full = 1;

            ngx_shmtx_unlock(&ctx->shpool->mutex);

            if (!full) {
                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "apim analytics: the zone is full, requests "
                              "are not counted: raise apim_analytics zone=");
            }

            return;
        }
    }

    c = &node->counts;

    c->requests++;
    c->bytes_in += req->bytes_in;
    c->bytes_out += req->bytes_out;
    c->latency_ms += req->latency;
    c->latency[b]++;

    if (req->reason && req->reason <= NGX_APIM_ANALYTICS_REASONS) {
        c->rejected[req->reason - 1]++;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * Names longer than NAME_MAX are cut, as the store's keys cut them.
 *
 * The hash runs in the log phase of every request: it reads the names a
 * word at a time, not a byte at a time through a table as crc32 does.  It
 * is only compared within the zone, which one binary fills, so it may
 * change from one version to the next.
 */

static void
ngx_http_apim_analytics_hash(ngx_http_apim_analytics_id_t *id)
{
    uint64_t  h;

    if (id->api.len > NGX_APIM_ANALYTICS_NAME_MAX) {
        id->api.len = NGX_APIM_ANALYTICS_NAME_MAX;
    }

    if (id->consumer.len > NGX_APIM_ANALYTICS_NAME_MAX) {
        id->consumer.len = NGX_APIM_ANALYTICS_NAME_MAX;
    }

    if (id->plan.len > NGX_APIM_ANALYTICS_NAME_MAX) {
        id->plan.len = NGX_APIM_ANALYTICS_NAME_MAX;
    }

    h = ngx_http_apim_analytics_mix(0, id->api.data, id->api.len);
    h = ngx_http_apim_analytics_mix(h, id->consumer.data, id->consumer.len);
    h = ngx_http_apim_analytics_mix(h, id->plan.data, id->plan.len);

    h ^= ((uint64_t) id->minute << 8) | id->status_class;

    /* the bucket is taken from the low bits: every bit of h reaches them */

    h *= NGX_HTTP_APIM_ANALYTICS_MUL;
    h ^= h >> 29;
    h *= NGX_HTTP_APIM_ANALYTICS_MUL2;
    h ^= h >> 32;

    id->hash = (uint32_t) h;
}


/*
 * One name into the hash, with its length first, so that names that
 * concatenate alike ("ab" "c", "a" "bc") differ.  The last 1 to 8 bytes
 * are read in two loads that may overlap, or, below 4 bytes, as the
 * first, middle and last byte: for a given length, either reads every
 * byte.
 */

static ngx_inline uint64_t
ngx_http_apim_analytics_mix(uint64_t h, u_char *p, size_t len)
{
    uint32_t  lo, hi;
    uint64_t  w;

    h = (h ^ len) * NGX_HTTP_APIM_ANALYTICS_MUL;

    while (len > 8) {
        ngx_memcpy(&w, p, 8);

        h = (h ^ w) * NGX_HTTP_APIM_ANALYTICS_MUL;
        h ^= h >> 32;

        p += 8;
        len -= 8;
    }

    if (len >= 4) {
        ngx_memcpy(&hi, p, 4);
        ngx_memcpy(&lo, p + len - 4, 4);
        w = ((uint64_t) hi << 32) | lo;

    } else if (len) {
        w = ((uint64_t) p[0] << 16) | ((uint64_t) p[len >> 1] << 8)
            | p[len - 1];

    } else {
        return h;
    }

    h = (h ^ w) * NGX_HTTP_APIM_ANALYTICS_MUL;

    return h ^ (h >> 32);
}


static ngx_http_apim_analytics_node_t *
ngx_http_apim_analytics_lookup(ngx_http_apim_analytics_sh_t *sh,
    ngx_http_apim_analytics_id_t *id)
{
    u_char                          *p;
    uint32_t                         i;
    ngx_http_apim_analytics_node_t  *node;

    for (i = sh->buckets[id->hash & sh->mask];
         i != NGX_HTTP_APIM_ANALYTICS_NONE;
         i = node->next)
    {
        node = &sh->node[i];

        if (node->hash != id->hash
            || node->minute != id->minute
            || node->status_class != id->status_class
            || node->api_len != id->api.len
            || node->consumer_len != id->consumer.len
            || node->plan_len != id->plan.len)
        {
            continue;
        }

        p = node->names;

        if (ngx_http_apim_analytics_eq(p, id->api.data, id->api.len)
            && ngx_http_apim_analytics_eq(p + id->api.len, id->consumer.data,
                                          id->consumer.len)
            && ngx_http_apim_analytics_eq(p + id->api.len + id->consumer.len,
                                          id->plan.data, id->plan.len))
        {
            return node;
        }
    }

    return NULL;
}


/*
 * Names are short: compared inline, with the loads of the hash, rather
 * than with a call to memcmp() each.
 */

static ngx_inline ngx_uint_t
ngx_http_apim_analytics_eq(u_char *a, u_char *b, size_t len)
{
    uint32_t  a4, b4, a4e, b4e;
    uint64_t  a8, b8;

    while (len > 8) {
        ngx_memcpy(&a8, a, 8);
        ngx_memcpy(&b8, b, 8);

        if (a8 != b8) {
            return 0;
        }

        a += 8;
        b += 8;
        len -= 8;
    }

    if (len >= 4) {
        ngx_memcpy(&a4, a, 4);
        ngx_memcpy(&b4, b, 4);
        ngx_memcpy(&a4e, a + len - 4, 4);
        ngx_memcpy(&b4e, b + len - 4, 4);

        return ((a4 ^ b4) | (a4e ^ b4e)) == 0;
    }

    if (len) {
        return a[0] == b[0] && a[len >> 1] == b[len >> 1]
               && a[len - 1] == b[len - 1];
    }

    return 1;
}


static ngx_http_apim_analytics_node_t *
ngx_http_apim_analytics_insert(ngx_http_apim_analytics_sh_t *sh,
    ngx_http_apim_analytics_id_t *id)
{
    u_char                          *p;
    uint32_t                         i, b;
    ngx_http_apim_analytics_node_t  *node;

    i = sh->free;

    if (i == NGX_HTTP_APIM_ANALYTICS_NONE) {
        return NULL;
    }

    node = &sh->node[i];
    sh->free = node->next;
    sh->used++;

    node->used = 1;
    node->hash = id->hash;
    node->minute = id->minute;
    node->total = NGX_HTTP_APIM_ANALYTICS_NONE;
    node->refs = 0;
    node->last = id->minute;
    node->status_class = (u_char) id->status_class;
    node->api_len = (u_char) id->api.len;
    node->consumer_len = (u_char) id->consumer.len;
    node->plan_len = (u_char) id->plan.len;

    p = ngx_cpymem(node->names, id->api.data, id->api.len);
    p = ngx_cpymem(p, id->consumer.data, id->consumer.len);
    (void) ngx_cpymem(p, id->plan.data, id->plan.len);

    ngx_memzero(&node->counts, sizeof(ngx_apim_analytics_counts_t));

    b = id->hash & sh->mask;
    node->next = sh->buckets[b];
    sh->buckets[b] = i;

    return node;
}


/* a minute node, and its series' total node if the series is new */

static ngx_http_apim_analytics_node_t *
ngx_http_apim_analytics_create(ngx_http_apim_analytics_sh_t *sh,
    ngx_http_apim_analytics_id_t *id)
{
    ngx_http_apim_analytics_id_t     tid;
    ngx_http_apim_analytics_node_t  *node, *total;

    tid = *id;
    tid.minute = 0;

    ngx_http_apim_analytics_hash(&tid);

    total = ngx_http_apim_analytics_lookup(sh, &tid);

    if (total == NULL) {
        total = ngx_http_apim_analytics_insert(sh, &tid);
        if (total == NULL) {
            return NULL;
        }
    }

    node = ngx_http_apim_analytics_insert(sh, id);
    if (node == NULL) {
        return NULL;
    }

    node->total = (uint32_t) (total - sh->node);

    total->refs++;
    total->last = id->minute;

    return node;
}


static void
ngx_http_apim_analytics_free(ngx_http_apim_analytics_sh_t *sh,
    ngx_http_apim_analytics_node_t *node)
{
    uint32_t   i, *prev;

    if (node->total != NGX_HTTP_APIM_ANALYTICS_NONE) {
        sh->node[node->total].refs--;
    }

    i = (uint32_t) (node - sh->node);

    for (prev = &sh->buckets[node->hash & sh->mask];
         *prev != NGX_HTTP_APIM_ANALYTICS_NONE;
         prev = &sh->node[*prev].next)
    {
        if (*prev == i) {
            *prev = node->next;
            break;
        }
    }

    node->used = 0;
    node->next = sh->free;
    sh->free = i;
    sh->used--;
}


static void
ngx_http_apim_analytics_names(ngx_http_apim_analytics_node_t *node,
    ngx_str_t *api, ngx_str_t *consumer, ngx_str_t *plan)
{
    api->data = node->names;
    api->len = node->api_len;
    consumer->data = api->data + api->len;
    consumer->len = node->consumer_len;
    plan->data = consumer->data + consumer->len;
    plan->len = node->plan_len;
}


/*
 * Moves minute counts into the store, a batch a write transaction: at most
 * "batches" batches (0: a whole pass, from the first node), NGX_AGAIN when
 * the pass is not over.  Minute nodes of past minutes are freed once
 * written.  A batch that cannot be written goes back into the zone.
 *
 * When the zone is seven eighths full, the totals of series idle for an
 * hour are freed too, so that consumers that come and go do not fill it
 * for good: their metrics go away, and start again from zero if they come
 * back, which Prometheus reads as a new series or a counter reset.
 */

ngx_int_t
ngx_http_apim_analytics_flush(ngx_shm_zone_t *zone, ngx_log_t *log,
    ngx_uint_t batches)
{
    int                               rc;
    u_char                           *p;
    uint32_t                          minute;
    ngx_uint_t                        n, done, freed;
    ngx_apim_store_t                 *st;
    ngx_http_apim_analytics_sh_t     *sh;
    ngx_http_apim_analytics_ctx_t    *ctx;
    ngx_http_apim_analytics_node_t   *node;
    ngx_http_apim_analytics_entry_t  *e;
    ngx_http_apim_analytics_batch_t   batch;

    ctx = zone->data;
    sh = ctx->sh;

    if (sh == NULL || ngx_process == NGX_PROCESS_HELPER) {
        return NGX_OK;
    }

    if (ngx_http_apim_analytics_pool != ngx_cycle->pool) {

        /* once a cycle, freed with it */

        ngx_http_apim_analytics_pool = ngx_cycle->pool;
        ngx_http_apim_analytics_entries = ngx_palloc(ngx_cycle->pool,
                                   NGX_HTTP_APIM_ANALYTICS_BATCH
                                   * sizeof(ngx_http_apim_analytics_entry_t));
        if (ngx_http_apim_analytics_entries == NULL) {
            ngx_http_apim_analytics_pool = NULL;
            return NGX_ERROR;
        }
    }

    if (batches == 0) {
        ngx_http_apim_analytics_pos = 0;
    }

    batch.entries = ngx_http_apim_analytics_entries;

    for (n = 0; /* void */; n++) {

        if (batches && n == batches) {
            return NGX_AGAIN;
        }

        minute = (uint32_t) (ngx_time() / 60);
        batch.n = 0;
        freed = 0;

        ngx_shmtx_lock(&ctx->shpool->mutex);

        while (ngx_http_apim_analytics_pos < sh->nodes
               && batch.n < NGX_HTTP_APIM_ANALYTICS_BATCH)
        {
            node = &sh->node[ngx_http_apim_analytics_pos++];

            if (!node->used) {
                continue;
            }

            if (node->minute == 0) {
                if (node->refs == 0
                    && node->last + NGX_HTTP_APIM_ANALYTICS_IDLE < minute
                    && sh->used > sh->nodes - sh->nodes / 8)
                {
                    ngx_http_apim_analytics_free(sh, node);
                    freed = 1;
                }

                continue;
            }

            if (node->counts.requests) {
                e = &batch.entries[batch.n++];

                ngx_http_apim_analytics_names(node, &e->id.api,
                                              &e->id.consumer, &e->id.plan);

                p = ngx_cpymem(e->names, e->id.api.data, e->id.api.len);
                p = ngx_cpymem(p, e->id.consumer.data, e->id.consumer.len);
                (void) ngx_cpymem(p, e->id.plan.data, e->id.plan.len);

                e->id.api.data = e->names;
                e->id.consumer.data = e->names + e->id.api.len;
                e->id.plan.data = e->id.consumer.data + e->id.consumer.len;
                e->id.status_class = node->status_class;
                e->id.minute = node->minute;
                e->counts = node->counts;

                ngx_apim_analytics_add(&sh->node[node->total].counts,
                                       &node->counts);
                ngx_memzero(&node->counts,
                            sizeof(ngx_apim_analytics_counts_t));
            }

            if (node->minute < minute) {
                ngx_http_apim_analytics_free(sh, node);
                freed = 1;
            }
        }

        done = (ngx_http_apim_analytics_pos >= sh->nodes);

        if (done) {
            ngx_http_apim_analytics_pos = 0;
        }

        if (freed) {
            sh->full = 0;
        }

        ngx_shmtx_unlock(&ctx->shpool->mutex);

        if (batch.n) {
            st = ngx_http_apim_store();

            rc = (st == NULL)
                 ? NGX_APIM_STORE_ERROR
                 : ngx_apim_store_write(st, ngx_http_apim_analytics_write,
                                        &batch);

            if (rc != NGX_APIM_STORE_OK) {
                if (st) {
                    ngx_http_apim_store_error(log, st);
                }

                ngx_http_apim_analytics_restore(ctx, &batch);
                return NGX_ERROR;
            }

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                           "apim analytics: flushed %ui buckets", batch.n);
        }

        if (done) {
            return NGX_OK;
        }
    }
}


/* each minute's counts go into its minute bucket and its hour bucket */

static int
ngx_http_apim_analytics_write(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_http_apim_analytics_batch_t  *batch = data;

    int                               rc;
    u_char                            key[NGX_APIM_ANALYTICS_KEY_MAX];
    u_char                            val[NGX_APIM_ANALYTICS_LEN];
    size_t                            klen;
    ngx_uint_t                        i, g;
    ngx_apim_val_t                    old;
    ngx_apim_analytics_key_t          k;
    ngx_apim_analytics_counts_t       c;
    ngx_http_apim_analytics_entry_t  *e;

    for (i = 0; i < batch->n; i++) {
        e = &batch->entries[i];

        k.api.data = (const char *) e->id.api.data;
        k.api.len = e->id.api.len;
        k.consumer.data = (const char *) e->id.consumer.data;
        k.consumer.len = e->id.consumer.len;
        k.plan.data = (const char *) e->id.plan.data;
        k.plan.len = e->id.plan.len;
        k.status_class = e->id.status_class;

        for (g = 0; g < 2; g++) {
            k.start = (int64_t) e->id.minute * 60;

            if (g == 0) {
                k.granularity = NGX_APIM_ANALYTICS_MINUTE;

            } else {
                k.granularity = NGX_APIM_ANALYTICS_HOUR;
                k.start -= k.start % 3600;
            }

            klen = ngx_apim_analytics_key_encode(&k, key);

            rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_ANALYTICS, key,
                                        klen, &old);

            if (rc == NGX_APIM_STORE_OK
                && ngx_apim_analytics_rec_decode(&c, old.data, old.len) == 0)
            {
                ngx_apim_analytics_add(&c, &e->counts);

            } else if (rc == NGX_APIM_STORE_OK
                       || rc == NGX_APIM_STORE_NOT_FOUND)
            {
                /* none yet, or a damaged record, which is rewritten */
                c = e->counts;

            } else {
                return rc;
            }

            ngx_apim_analytics_rec_encode(&c, val);

            rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_ANALYTICS, key,
                                        klen, val, NGX_APIM_ANALYTICS_LEN, 0);
            if (rc != NGX_APIM_STORE_OK) {
                return rc;
            }
        }
    }

    return NGX_APIM_STORE_OK;
}


/* counts that could not be written go back to their minute nodes */

static void
ngx_http_apim_analytics_restore(ngx_http_apim_analytics_ctx_t *ctx,
    ngx_http_apim_analytics_batch_t *batch)
{
    ngx_uint_t                        i;
    ngx_http_apim_analytics_id_t      tid;
    ngx_http_apim_analytics_node_t   *node, *total;
    ngx_http_apim_analytics_entry_t  *e;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (i = 0; i < batch->n; i++) {
        e = &batch->entries[i];

        ngx_http_apim_analytics_hash(&e->id);

        /* the total that took the counts, if it is still there */

        tid = e->id;
        tid.minute = 0;
        ngx_http_apim_analytics_hash(&tid);

        total = ngx_http_apim_analytics_lookup(ctx->sh, &tid);

        node = ngx_http_apim_analytics_lookup(ctx->sh, &e->id);

        if (node == NULL) {
            node = ngx_http_apim_analytics_create(ctx->sh, &e->id);
        }

        if (node == NULL) {
            /* the total keeps them: the metrics stay right */
            ctx->sh->dropped += e->counts.requests;
            continue;
        }

        ngx_apim_analytics_add(&node->counts, &e->counts);

        if (total) {
            ngx_apim_analytics_sub(&total->counts, &e->counts);
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * Removes buckets past their retention: minute buckets after an hour (or
 * the retention if shorter), hour buckets after the retention, measured
 * from the end of each bucket.
 */

static void
ngx_http_apim_analytics_expire(ngx_http_apim_analytics_ctx_t *ctx,
    ngx_log_t *log)
{
    int                                rc;
    time_t                             now, keep;
    ngx_apim_store_t                  *st;
    ngx_http_apim_analytics_expiry_t   ex;

    now = ngx_time();

    if (now < ngx_http_apim_analytics_expired + 60) {
        return;
    }

    st = ngx_http_apim_store();
    if (st == NULL) {
        return;
    }

    keep = ngx_min(NGX_HTTP_APIM_ANALYTICS_MINUTES, ctx->conf->retention);

    ex.minutes = now - keep - 60;
    ex.hours = now - ctx->conf->retention - 3600;
    ex.removed = 0;

    rc = ngx_apim_store_write(st, ngx_http_apim_analytics_expire_handler,
                              &ex);

    if (rc != NGX_APIM_STORE_OK) {
        ngx_http_apim_store_error(log, st);
        return;
    }

    /* more to remove: again at the next flush */

    if (ex.removed < NGX_HTTP_APIM_ANALYTICS_EXPIRE) {
        ngx_http_apim_analytics_expired = now;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "apim analytics: removed %ui old buckets", ex.removed);
}


static int
ngx_http_apim_analytics_expire_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_http_apim_analytics_expiry_t  *ex = data;

    int  rc;

    ex->removed = 0;

    rc = ngx_http_apim_analytics_expire_db(st, txn, NGX_APIM_ANALYTICS_MINUTE,
                                           ex->minutes, &ex->removed);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    return ngx_http_apim_analytics_expire_db(st, txn, NGX_APIM_ANALYTICS_HOUR,
                                             ex->hours, &ex->removed);
}


static int
ngx_http_apim_analytics_expire_db(ngx_apim_store_t *st, MDB_txn *txn,
    int granularity, int64_t last, ngx_uint_t *removed)
{
    int                        rc;
    u_char                     prefix[NGX_APIM_ANALYTICS_PREFIX];
    MDB_val                    k, v;
    MDB_cursor                *cur;
    ngx_apim_analytics_key_t   key;

    rc = mdb_cursor_open(txn, st->dbi[NGX_APIM_DB_ANALYTICS], &cur);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_open() failed");
    }

    k.mv_size = ngx_apim_analytics_key_prefix(granularity, 0, prefix);
    k.mv_data = prefix;

    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);

    while (rc == MDB_SUCCESS && *removed < NGX_HTTP_APIM_ANALYTICS_EXPIRE) {

        if (k.mv_size < 1 || ((u_char *) k.mv_data)[0] != granularity) {
            break;
        }

        /* a damaged key is removed too */

        if (ngx_apim_analytics_key_decode(&key, k.mv_data, k.mv_size) == 0
            && key.start > last)
        {
            break;
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != MDB_SUCCESS) {
            break;
        }

        (*removed)++;

        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }

    mdb_cursor_close(cur);

    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        return ngx_apim_store_fail(st, rc, "removing old analytics failed");
    }

    return NGX_APIM_STORE_OK;
}


/* one worker writes the counts on a timer */

void
ngx_http_apim_analytics_start_flush(ngx_cycle_t *cycle, ngx_shm_zone_t *zone)
{
    ngx_event_t                    *ev;
    ngx_http_apim_analytics_ctx_t  *ctx;

    if (ngx_worker != 0 || ngx_process == NGX_PROCESS_HELPER) {
        return;
    }

    ev = &ngx_http_apim_analytics_flush_ev;

    if (ev->timer_set) {
        return;
    }

    ctx = zone->data;

    ev->handler = ngx_http_apim_analytics_flush_handler;
    ev->log = cycle->log;
    ev->data = zone;
    ev->cancelable = 1;

    ngx_add_timer(ev, ctx->conf->flush);
}


/* a batch a turn of the event loop, so that no flush stalls the worker */

static void
ngx_http_apim_analytics_flush_handler(ngx_event_t *ev)
{
    ngx_int_t                       rc;
    ngx_shm_zone_t                 *zone;
    ngx_http_apim_analytics_ctx_t  *ctx;

    zone = ev->data;
    ctx = zone->data;

    rc = ngx_http_apim_analytics_flush(zone, ev->log, 1);

    if (rc == NGX_OK) {
        ngx_http_apim_analytics_expire(ctx, ev->log);
    }

    if (!ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_add_timer(ev, (rc == NGX_AGAIN) ? 1 : ctx->conf->flush);
    }
}


/* the analytics zone of the running configuration, or NULL */

ngx_shm_zone_t *
ngx_http_apim_analytics_zone(void)
{
    ngx_uint_t              i;
    ngx_shm_zone_t         *shm_zone;
    ngx_list_part_t        *part;

    static ngx_cycle_t     *cycle;
    static ngx_shm_zone_t  *zone;

    if (cycle == (ngx_cycle_t *) ngx_cycle) {
        return zone;
    }

    zone = NULL;
    part = &((ngx_cycle_t *) ngx_cycle)->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].init == ngx_http_apim_analytics_init_zone) {
            zone = &shm_zone[i];
            break;
        }
    }

    cycle = (ngx_cycle_t *) ngx_cycle;

    return zone;
}


/*
 * A copy of every node (minute and total), for the metrics endpoint to
 * sum up outside the lock.
 */

ngx_int_t
ngx_http_apim_analytics_snapshot(ngx_shm_zone_t *zone, ngx_pool_t *pool,
    ngx_array_t *items, uint64_t *dropped)
{
    u_char                          *p;
    uint32_t                         i, n;
    ngx_str_t                        api, consumer, plan;
    ngx_http_apim_analytics_sh_t    *sh;
    ngx_http_apim_analytics_ctx_t   *ctx;
    ngx_http_apim_analytics_item_t  *it;
    ngx_http_apim_analytics_node_t  *node;

    ctx = zone->data;
    sh = ctx->sh;

    n = sh->used + 64;

    for ( ;; ) {
        if (ngx_array_init(items, pool, n,
                           sizeof(ngx_http_apim_analytics_item_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_shmtx_lock(&ctx->shpool->mutex);

        if (sh->used <= n) {
            break;
        }

        n = sh->used + 64;

        ngx_shmtx_unlock(&ctx->shpool->mutex);
    }

    for (i = 0; i < sh->nodes; i++) {
        node = &sh->node[i];

        if (!node->used) {
            continue;
        }

        it = ngx_array_push(items);   /* preallocated: never allocates */

        ngx_http_apim_analytics_names(node, &api, &consumer, &plan);

        p = ngx_cpymem(it->names, api.data, api.len);
        p = ngx_cpymem(p, consumer.data, consumer.len);
        (void) ngx_cpymem(p, plan.data, plan.len);

        it->api.data = it->names;
        it->api.len = api.len;
        it->consumer.data = it->names + api.len;
        it->consumer.len = consumer.len;
        it->plan.data = it->consumer.data + consumer.len;
        it->plan.len = plan.len;
        it->status_class = node->status_class;
        it->counts = node->counts;
    }

    *dropped = sh->dropped;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}
