
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The limiter shared by both modules: a rate limit (GCRA, with burst) and
 * a quota per window, for any name ("q:" + key id for API keys, "m:..."
 * for the mesh's east-west limits, src/ngx_http_mesh_authz_limit.c), counted
 * in shared memory under one lock so that every worker sees one exact
 * count.  A name's state is loaded from the store the first time it is
 * seen (in the caller's read transaction, or in one of its own), and
 * again when the caller's generation differs from the state's (its usage
 * was reset or restored outside nginx: src/ngx_apim_usage.c); dirty
 * states are written back by one worker on a timer and by every worker as
 * it exits (src/ngx_http_apim_limit_flush.c), so counts survive reloads
 * and restarts without a write transaction per request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_limit.h"
#include "ngx_http_apim_limit_zone.h"


#define NGX_HTTP_APIM_LIMIT_NAME_MAX   256
#define NGX_HTTP_APIM_LIMIT_EVICT      8

/* a bucket of the index for every this many bytes of the zone */
#define NGX_HTTP_APIM_LIMIT_BUCKET     256


static ngx_int_t ngx_http_apim_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_apim_limit_unlink(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_node_t *node);
static ngx_http_apim_limit_node_t *ngx_http_apim_limit_create(
    ngx_http_apim_limit_ctx_t *ctx, ngx_str_t *name, uint32_t hash,
    uint32_t gen, ngx_apim_store_t *st);
static ngx_int_t ngx_http_apim_limit_load(ngx_apim_store_t *st,
    ngx_str_t *name, uint32_t gen, ngx_apim_usage_rec_t *usage);
static void ngx_http_apim_limit_window(ngx_http_apim_limit_t *limit,
    ngx_apim_usage_rec_t *u, int64_t now);


ngx_shm_zone_t *
ngx_http_apim_limit_zone(ngx_conf_t *cf, size_t size, void *tag)
{
    ngx_str_t                   name;
    ngx_shm_zone_t             *zone;
    ngx_http_apim_limit_ctx_t  *ctx;

    ngx_str_set(&name, "apim");

    zone = ngx_shared_memory_add(cf, &name, size, tag);
    if (zone == NULL) {
        return NULL;
    }

    if (zone->data) {
        return zone;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_apim_limit_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    zone->init = ngx_http_apim_limit_init_zone;
    zone->data = ctx;

    return zone;
}


static ngx_int_t
ngx_http_apim_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_apim_limit_ctx_t  *octx = data;

    size_t                      len;
    ngx_uint_t                  n;
    ngx_http_apim_limit_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* a reload with the same zone: the counts go on */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_apim_limit_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    n = 1;

    while (n < shm_zone->shm.size / NGX_HTTP_APIM_LIMIT_BUCKET) {
        n <<= 1;
    }

    ctx->sh->buckets = ngx_slab_calloc(ctx->shpool, n * sizeof(void *));
    if (ctx->sh->buckets == NULL) {
        return NGX_ERROR;
    }

    ctx->sh->mask = n - 1;

    ngx_queue_init(&ctx->sh->lru);
    ngx_queue_init(&ctx->sh->dirty);

    len = sizeof(" in apim zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in apim zone \"%V\"%Z",
                &shm_zone->shm.name);

    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * Counts one request against the name's limits: NGX_OK with res->rejected
 * set to PASSED, RATE or QUOTA; NGX_ERROR when the zone or the store
 * cannot hold the state.  A rejected request consumes neither limit.
 * "gen" is the usage generation of the key record (0 for names without
 * one).
 */

ngx_int_t
ngx_http_apim_limit_check(ngx_shm_zone_t *zone, ngx_str_t *name,
    uint32_t gen, ngx_http_apim_limit_t *limit, ngx_apim_store_t *st,
    ngx_http_apim_limit_result_t *res)
{
    return ngx_http_apim_limit_count(zone, name,
                                       ngx_http_apim_limit_hash(name), gen,
                                       limit, st, res,
                                       NGX_HTTP_APIM_LIMIT_COUNT
                                       |NGX_HTTP_APIM_LIMIT_DETAIL);
}


uint32_t
ngx_http_apim_limit_hash(ngx_str_t *name)
{
    return ngx_crc32_short(name->data, name->len);
}


/* the same answer, counting nothing */

ngx_int_t
ngx_http_apim_limit_peek(ngx_shm_zone_t *zone, ngx_str_t *name,
    uint32_t gen, ngx_http_apim_limit_t *limit, ngx_apim_store_t *st,
    ngx_http_apim_limit_result_t *res)
{
    return ngx_http_apim_limit_count(zone, name,
                                       ngx_http_apim_limit_hash(name), gen,
                                       limit, st, res,
                                       NGX_HTTP_APIM_LIMIT_DETAIL);
}


/*
 * The same, with the name's hash the caller kept, and flags: COUNT counts
 * a request that passes (else nothing is counted); DETAIL fills the
 * remaining, reset and used figures even for a request that passes (they
 * are for headers; a rejected request always gets them)
 */

ngx_int_t
ngx_http_apim_limit_count(ngx_shm_zone_t *zone, ngx_str_t *name,
    uint32_t hash, uint32_t gen, ngx_http_apim_limit_t *limit,
    ngx_apim_store_t *st, ngx_http_apim_limit_result_t *res,
    ngx_uint_t flags)
{
    int64_t                      now, now_us, tat, tau, wait;
    ngx_uint_t                   account;
    ngx_time_t                  *tp;
    ngx_apim_usage_rec_t         u;
    ngx_http_apim_limit_ctx_t   *ctx;
    ngx_http_apim_limit_node_t  *node;

    ctx = zone->data;
    account = flags & NGX_HTTP_APIM_LIMIT_COUNT;

    if (name->len > NGX_HTTP_APIM_LIMIT_NAME_MAX) {
        ngx_http_apim_store_fail(ngx_cycle->log, "a limit's name is too long");
        return NGX_ERROR;
    }

    /*
     * a quota counted only in memory would be lost on restart: while the
     * store cannot take the counts, quotas are not counted at all
     */

    if (limit->quota && account && ctx->sh->full) {
        ngx_http_apim_store_fail(ngx_cycle->log, "the store is full: quota "
                                 "counts cannot be kept");
        return NGX_ERROR;
    }

    tp = ngx_timeofday();
    now = tp->sec;
    now_us = (int64_t) tp->sec * 1000000 + (int64_t) tp->msec * 1000;

    ngx_memzero(res, sizeof(ngx_http_apim_limit_result_t));

    ngx_shmtx_lock(&ctx->shpool->mutex);

    node = ngx_http_apim_limit_lookup(ctx, name, hash);

    if (node == NULL) {
        node = ngx_http_apim_limit_create(ctx, name, hash, gen, st);

        if (node == NULL) {
            goto failed;
        }

    } else if (node->usage.gen != gen) {

        /* reset or restored outside: what was counted here is dropped */

        if (ngx_http_apim_limit_load(st, name, gen, &node->usage) != NGX_OK) {
            goto failed;
        }

        if (node->is_dirty) {
            node->is_dirty = 0;
            ngx_queue_remove(&node->dirty);
        }

        ngx_queue_remove(&node->lru);
        ngx_queue_insert_head(&ctx->sh->lru, &node->lru);

    } else if (ngx_queue_head(&ctx->sh->lru) != &node->lru) {

        /* a name counted again and again stays put: no shared line written */

        ngx_queue_remove(&node->lru);
        ngx_queue_insert_head(&ctx->sh->lru, &node->lru);
    }

    u = node->usage;

    /* the rate: GCRA, with a tolerance of "burst" intervals */

    tat = u.tat;

    if (limit->interval) {
        tau = limit->interval * limit->burst;

        if (tat < now_us) {
            tat = now_us;
        }

        if (tat - now_us > tau) {
            res->rejected = NGX_HTTP_APIM_LIMIT_RATE;
            wait = tat - now_us - tau;
            res->retry_after = (wait + 999999) / 1000000;

        } else if (account) {
            tat += limit->interval;
        }

        if ((flags & NGX_HTTP_APIM_LIMIT_DETAIL) || res->rejected) {

            /* how many more requests would pass right now */

            wait = tau - (tat - now_us);
            res->rate_remaining = (wait >= 0) ? wait / limit->interval + 1
                                              : 0;

            /* never more than the policy's own quota, "q" of the policy */

            if (res->rate_remaining > limit->rate) {
                res->rate_remaining = limit->rate;
            }

            res->rate_reset = (tat - now_us + 999999) / 1000000;
            res->rate_used = (tat - now_us + limit->interval - 1)
                             / limit->interval;
        }
    }

    /* the quota: in the window that holds now */

    if (limit->quota) {
        ngx_http_apim_limit_window(limit, &u, now);

        if (res->rejected == NGX_HTTP_APIM_LIMIT_PASSED
            && u.count >= limit->quota)
        {
            res->rejected = NGX_HTTP_APIM_LIMIT_QUOTA;
            res->retry_after = u.window_end - now;

        } else if (res->rejected == NGX_HTTP_APIM_LIMIT_PASSED && account) {
            u.count++;
        }

        res->quota_used = u.count;
        res->quota_remaining = limit->quota - u.count;
        res->quota_reset = u.window_end - now;

        if (res->quota_remaining < 0) {
            res->quota_remaining = 0;
        }
    }

    if (res->rejected == NGX_HTTP_APIM_LIMIT_PASSED && account) {
        u.tat = limit->interval ? tat : u.tat;
        node->usage = u;

        if (!node->is_dirty) {
            node->is_dirty = 1;
            ngx_queue_insert_tail(&ctx->sh->dirty, &node->dirty);
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (res->retry_after < 1 && res->rejected) {
        res->retry_after = 1;
    }

    return NGX_OK;

failed:

    ngx_shmtx_unlock(&ctx->shpool->mutex);
    ngx_http_apim_store_fail(ngx_cycle->log, st ? st->err : "no store");

    return NGX_ERROR;
}


/*
 * Moves the usage into the window that holds now.  A calendar window that
 * changed its length (the plan changed) carries its count over while the
 * old window lasts: a change of plan never resets usage silently.
 */

static void
ngx_http_apim_limit_window(ngx_http_apim_limit_t *limit,
    ngx_apim_usage_rec_t *u, int64_t now)
{
    int64_t  start;

    if (limit->period.rolling) {
        if (u->window_start && now >= u->window_start
            && now < u->window_end)
        {
            return;
        }

        u->window_start = now;
        u->window_end = ngx_apim_window_end(&limit->period, now);
        u->count = 0;
        return;
    }

    start = ngx_apim_window_start(&limit->period, now);

    if (u->window_start == start) {
        return;
    }

    if (!(u->window_start && now >= u->window_start && now < u->window_end)) {
        u->count = 0;
    }

    u->window_start = start;
    u->window_end = ngx_apim_window_end(&limit->period, start);
}


ngx_http_apim_limit_node_t *
ngx_http_apim_limit_lookup(ngx_http_apim_limit_ctx_t *ctx, ngx_str_t *name,
    uint32_t hash)
{
    ngx_http_apim_limit_node_t  *node;

    for (node = ctx->sh->buckets[hash & ctx->sh->mask];
         node;
         node = node->next)
    {
        if (node->hash == hash
            && node->len == name->len
            && ngx_memcmp(node->name, name->data, name->len) == 0)
        {
            return node;
        }
    }

    return NULL;
}


static void
ngx_http_apim_limit_unlink(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_node_t *node)
{
    ngx_http_apim_limit_node_t  **p;

    for (p = &ctx->sh->buckets[node->hash & ctx->sh->mask];
         *p;
         p = &(*p)->next)
    {
        if (*p == node) {
            *p = node->next;
            return;
        }
    }
}


/*
 * A node for a name seen for the first time since the zone was made: its
 * state comes from the store.  When the zone is full, the least recently
 * used states already written to the store make room.
 */

static ngx_http_apim_limit_node_t *
ngx_http_apim_limit_create(ngx_http_apim_limit_ctx_t *ctx, ngx_str_t *name,
    uint32_t hash, uint32_t gen, ngx_apim_store_t *st)
{
    size_t                       size;
    ngx_uint_t                   n;
    ngx_queue_t                 *q, *prev;
    ngx_apim_usage_rec_t         usage;
    ngx_http_apim_limit_node_t  *node, *old;

    if (ngx_http_apim_limit_load(st, name, gen, &usage) != NGX_OK) {
        return NULL;
    }

    size = offsetof(ngx_http_apim_limit_node_t, name) + name->len;

    node = ngx_slab_alloc_locked(ctx->shpool, size);

    if (node == NULL) {
        n = 0;
        q = ngx_queue_last(&ctx->sh->lru);

        while (q != ngx_queue_sentinel(&ctx->sh->lru)
               && n < NGX_HTTP_APIM_LIMIT_EVICT)
        {
            prev = ngx_queue_prev(q);
            old = ngx_queue_data(q, ngx_http_apim_limit_node_t, lru);

            /* neither dirty nor in a round not yet written */

            if (!old->is_dirty && old->round <= ctx->sh->written) {
                ngx_queue_remove(&old->lru);
                ngx_http_apim_limit_unlink(ctx, old);
                ngx_slab_free_locked(ctx->shpool, old);
                n++;
            }

            q = prev;
        }

        node = ngx_slab_alloc_locked(ctx->shpool, size);
        if (node == NULL) {
            ngx_cpystrn((u_char *) st->err, (u_char *) "the apim zone is "
                        "full: raise apim_store zone=", NGX_APIM_STORE_ERRLEN);
            return NULL;
        }
    }

    node->hash = hash;
    node->round = 0;
    node->usage = usage;
    node->is_dirty = 0;
    node->len = (u_short) name->len;
    ngx_memcpy(node->name, name->data, name->len);

    node->next = ctx->sh->buckets[hash & ctx->sh->mask];
    ctx->sh->buckets[hash & ctx->sh->mask] = node;

    ngx_queue_insert_head(&ctx->sh->lru, &node->lru);

    return node;
}


/*
 * A name's state as the store has it, in the caller's read transaction if
 * it has one.  A record of another generation than the caller's was
 * written before a reset, or raced with one: it counts as no usage.
 */

static ngx_int_t
ngx_http_apim_limit_load(ngx_apim_store_t *st, ngx_str_t *name, uint32_t gen,
    ngx_apim_usage_rec_t *usage)
{
    int             rc;
    ngx_uint_t      reading;
    ngx_apim_val_t  val;

    if (st == NULL) {
        return NGX_ERROR;
    }

    reading = st->reading;

    if (!reading && ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        return NGX_ERROR;
    }

    rc = ngx_apim_store_get(st, NGX_APIM_DB_COUNTERS, name->data, name->len,
                            &val);

    if (rc == NGX_APIM_STORE_OK
        && (ngx_apim_usage_rec_decode(usage, val.data, val.len) != 0
            || usage->gen != gen))
    {
        /* a damaged record counts as none too; it is rewritten */
        rc = NGX_APIM_STORE_NOT_FOUND;
    }

    if (!reading) {
        ngx_apim_store_read_end(st);
    }

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        ngx_memzero(usage, sizeof(ngx_apim_usage_rec_t));
        usage->gen = gen;
        return NGX_OK;
    }

    return (rc == NGX_APIM_STORE_OK) ? NGX_OK : NGX_ERROR;
}
