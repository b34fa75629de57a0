
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Writing the limiter's dirty states back to the store, in rounds: one
 * worker takes the states dirty at the time, a run of some thousands a
 * turn of its event loop, each run sorted as the store sorts its keys,
 * and then writes them in that order (a merge of the runs), a batch a
 * transaction and a transaction a turn.  With many names dirty at once,
 * neighbours in a batch are neighbours in the store's B-tree, so that a
 * transaction copies and writes a page for several states, not a page for
 * each; and no turn holds the event loop for long.
 *
 * A state taken into a round is not dirty any more, but it must not be
 * evicted from the zone before the round has written it: the store would
 * still hold its older count.  Each node remembers the last round that
 * took it, the zone the last round written (src/ngx_http_apim_limit.c
 * evicts only nodes of rounds written).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_limit.h"
#include "ngx_http_apim_limit_zone.h"


#define NGX_HTTP_APIM_LIMIT_TAKE       4096    /* states a run */
#define NGX_HTTP_APIM_LIMIT_RUNS       32      /* runs a round, at most */
#define NGX_HTTP_APIM_LIMIT_BATCH      512     /* states a transaction */


typedef struct {
    ngx_apim_usage_rec_t           usage;
    u_short                        len;
    u_char                         name[1];
} ngx_http_apim_limit_entry_t;


typedef struct {
    uint64_t                       prefix;    /* the name's first 8 bytes,
                                                 big-endian: sorts as it */
    ngx_http_apim_limit_entry_t   *entry;
} ngx_http_apim_limit_sorted_t;


typedef struct {
    ngx_http_apim_limit_sorted_t  *pos;       /* the next not written */
    ngx_http_apim_limit_sorted_t  *last;
} ngx_http_apim_limit_run_t;


typedef struct {
    ngx_pool_t                    *pool;      /* NULL: no round */
    ngx_uint_t                     seq;
    ngx_uint_t                     taking;    /* more runs may be taken */
    ngx_uint_t                     nruns;
    ngx_http_apim_limit_run_t      runs[NGX_HTTP_APIM_LIMIT_RUNS];
    ngx_uint_t                     nbatch;
    ngx_http_apim_limit_sorted_t   batch[NGX_HTTP_APIM_LIMIT_BATCH];
} ngx_http_apim_limit_round_t;


static ngx_int_t ngx_http_apim_limit_round_start(
    ngx_http_apim_limit_ctx_t *ctx, ngx_http_apim_limit_round_t *round,
    ngx_log_t *log);
static ngx_int_t ngx_http_apim_limit_take(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_round_t *round);
static int ngx_libc_cdecl ngx_http_apim_limit_cmp(const void *one,
    const void *two);
static void ngx_http_apim_limit_merge(ngx_http_apim_limit_round_t *round);
static int ngx_http_apim_limit_write(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static void ngx_http_apim_limit_redirty(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_round_t *round, ngx_uint_t full);
static void ngx_http_apim_limit_redirty_run(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_sorted_t *s, ngx_http_apim_limit_sorted_t *last);
static void ngx_http_apim_limit_round_end(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_round_t *round);
static void ngx_http_apim_limit_flush_handler(ngx_event_t *ev);


static ngx_http_apim_limit_round_t   ngx_http_apim_limit_round;
static ngx_event_t                   ngx_http_apim_limit_flush_ev;
static ngx_msec_t                    ngx_http_apim_limit_flush_interval;


/*
 * Takes and writes states: at most "steps" runs taken or batches written,
 * and at most one round (0: until none is left); NGX_AGAIN when the round
 * is not done, or was full and more are dirty.  States that cannot be
 * written are marked dirty again.
 */

ngx_int_t
ngx_http_apim_limit_flush(ngx_shm_zone_t *zone, ngx_log_t *log,
    ngx_uint_t steps)
{
    int                           rc;
    ngx_uint_t                    n, full;
    ngx_apim_store_t             *st;
    ngx_http_apim_limit_ctx_t    *ctx;
    ngx_http_apim_limit_round_t  *round;

    ctx = zone->data;

    if (ctx->sh == NULL) {
        return NGX_OK;
    }

    round = &ngx_http_apim_limit_round;

    for (n = 0; /* void */; n++) {

        if (steps && n == steps) {
            return round->pool ? NGX_AGAIN : NGX_OK;
        }

        if (round->pool == NULL) {
            if (ngx_queue_empty(&ctx->sh->dirty)) {
                return NGX_OK;
            }

            if (ngx_http_apim_limit_round_start(ctx, round, log) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        if (round->taking) {
            if (ngx_http_apim_limit_take(ctx, round) == NGX_ERROR) {
                ngx_http_apim_limit_redirty(ctx, round, 0);
                ngx_http_apim_limit_round_end(ctx, round);
                return NGX_ERROR;
            }

            continue;
        }

        ngx_http_apim_limit_merge(round);

        if (round->nbatch == 0) {
            full = (round->nruns == NGX_HTTP_APIM_LIMIT_RUNS);

            ngx_http_apim_limit_round_end(ctx, round);

            /*
             * on the timer, the next round waits for the next interval:
             * what was dirtied meanwhile is then written in one round, not
             * in many small ones back to back; after a round that could
             * not take all, the next one starts at once
             */

            if (steps) {
                return (full && !ngx_queue_empty(&ctx->sh->dirty))
                       ? NGX_AGAIN : NGX_OK;
            }

            continue;
        }

        st = ngx_http_apim_store();

        rc = (st == NULL)
             ? NGX_APIM_STORE_ERROR
             : ngx_apim_store_write(st, ngx_http_apim_limit_write, round);

        if (rc != NGX_APIM_STORE_OK) {
            if (st) {
                ngx_http_apim_store_error(log, st);
            }

            ngx_http_apim_limit_redirty(ctx, round,
                                        rc == NGX_APIM_STORE_FULL);
            ngx_http_apim_limit_round_end(ctx, round);
            return NGX_ERROR;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "apim limit: flushed %ui states", round->nbatch);

        round->nbatch = 0;

        if (ctx->sh->full) {
            ngx_shmtx_lock(&ctx->shpool->mutex);
            ctx->sh->full = 0;
            ngx_shmtx_unlock(&ctx->shpool->mutex);

            ngx_http_apim_store_ok();
        }
    }
}


static ngx_int_t
ngx_http_apim_limit_round_start(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_round_t *round, ngx_log_t *log)
{
    round->pool = ngx_create_pool(65536, log);
    if (round->pool == NULL) {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);
    round->seq = ++ctx->sh->taken;
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    round->taking = 1;

    return NGX_OK;
}


/*
 * Takes a run: up to TAKE dirty states in one hold of the lock, copied out
 * of the zone and sorted.  The round stops taking when none is left dirty
 * or it has all the runs it can hold.
 */

static ngx_int_t
ngx_http_apim_limit_take(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_round_t *round)
{
    u_char                        *p;
    ngx_uint_t                     n;
    ngx_queue_t                   *q;
    ngx_http_apim_limit_run_t     *run;
    ngx_http_apim_limit_node_t    *node;
    ngx_http_apim_limit_entry_t   *e;
    ngx_http_apim_limit_sorted_t  *s;

    run = &round->runs[round->nruns];

    run->pos = ngx_palloc(round->pool, NGX_HTTP_APIM_LIMIT_TAKE
                                       * sizeof(ngx_http_apim_limit_sorted_t));
    if (run->pos == NULL) {
        return NGX_ERROR;
    }

    run->last = run->pos;
    round->nruns++;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (n = 0; n < NGX_HTTP_APIM_LIMIT_TAKE; n++) {

        if (ngx_queue_empty(&ctx->sh->dirty)) {
            break;
        }

        q = ngx_queue_head(&ctx->sh->dirty);
        node = ngx_queue_data(q, ngx_http_apim_limit_node_t, dirty);

        e = ngx_palloc(round->pool,
                       offsetof(ngx_http_apim_limit_entry_t, name)
                       + node->len);
        if (e == NULL) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_ERROR;
        }

        ngx_queue_remove(q);
        node->is_dirty = 0;
        node->round = round->seq;

        e->usage = node->usage;
        e->len = node->len;
        ngx_memcpy(e->name, node->name, node->len);

        s = run->last++;
        s->entry = e;

        /* the first 8 bytes, big-endian, zeros after a shorter name */

        s->prefix = 0;

        for (p = e->name; p < e->name + 8; p++) {
            s->prefix = (s->prefix << 8) | ((p < e->name + e->len) ? *p : 0);
        }
    }

    if (ngx_queue_empty(&ctx->sh->dirty)
        || round->nruns == NGX_HTTP_APIM_LIMIT_RUNS)
    {
        round->taking = 0;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_qsort(run->pos, run->last - run->pos,
              sizeof(ngx_http_apim_limit_sorted_t), ngx_http_apim_limit_cmp);

    return NGX_OK;
}


/* the store's order: bytes, then the shorter first */

static int ngx_libc_cdecl
ngx_http_apim_limit_cmp(const void *one, const void *two)
{
    const ngx_http_apim_limit_sorted_t  *a = one;
    const ngx_http_apim_limit_sorted_t  *b = two;

    int     rc;
    size_t  len;

    if (a->prefix != b->prefix) {
        return (a->prefix < b->prefix) ? -1 : 1;
    }

    len = ngx_min(a->entry->len, b->entry->len);

    rc = ngx_memcmp(a->entry->name, b->entry->name, len);

    if (rc) {
        return rc;
    }

    return (int) a->entry->len - (int) b->entry->len;
}


/* the next batch: the smallest of the runs' heads, in turn */

static void
ngx_http_apim_limit_merge(ngx_http_apim_limit_round_t *round)
{
    ngx_uint_t                  i;
    ngx_http_apim_limit_run_t  *run, *min;

    while (round->nbatch < NGX_HTTP_APIM_LIMIT_BATCH) {
        min = NULL;

        for (i = 0; i < round->nruns; i++) {
            run = &round->runs[i];

            if (run->pos < run->last
                && (min == NULL
                    || ngx_http_apim_limit_cmp(run->pos, min->pos) < 0))
            {
                min = run;
            }
        }

        if (min == NULL) {
            return;
        }

        round->batch[round->nbatch++] = *min->pos++;
    }
}


/* the round's batch, in one write transaction */

static int
ngx_http_apim_limit_write(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    ngx_http_apim_limit_round_t  *round = data;

    int                           rc;
    u_char                        buf[NGX_APIM_USAGE_LEN];
    ngx_uint_t                    i;
    ngx_http_apim_limit_entry_t  *e;

    for (i = 0; i < round->nbatch; i++) {
        e = round->batch[i].entry;

        ngx_apim_usage_rec_encode(&e->usage, buf);

        rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_COUNTERS, e->name,
                                    e->len, buf, NGX_APIM_USAGE_LEN, 0);
        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }
    }

    return NGX_APIM_STORE_OK;
}


/* what the round has not written is dirty again: the batch, the runs' rest */

static void
ngx_http_apim_limit_redirty(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_round_t *round, ngx_uint_t full)
{
    ngx_uint_t                  i;
    ngx_http_apim_limit_run_t  *run;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_apim_limit_redirty_run(ctx, round->batch,
                                    round->batch + round->nbatch);

    for (i = 0; i < round->nruns; i++) {
        run = &round->runs[i];
        ngx_http_apim_limit_redirty_run(ctx, run->pos, run->last);
    }

    if (full) {
        ctx->sh->full = 1;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


static void
ngx_http_apim_limit_redirty_run(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_sorted_t *s, ngx_http_apim_limit_sorted_t *last)
{
    ngx_str_t                    name;
    ngx_http_apim_limit_node_t  *node;

    for ( /* void */ ; s < last; s++) {
        name.data = s->entry->name;
        name.len = s->entry->len;

        node = ngx_http_apim_limit_lookup(ctx, &name,
                                          ngx_http_apim_limit_hash(&name));

        if (node && !node->is_dirty) {
            node->is_dirty = 1;
            ngx_queue_insert_tail(&ctx->sh->dirty, &node->dirty);
        }
    }
}


/*
 * The round's states may be evicted from now on.  Rounds of two workers
 * (both exiting, say) may end out of order: then the earlier one's states
 * become evictable a little early, and the worst that can happen is that
 * an evicted state is read back one round old.
 */

static void
ngx_http_apim_limit_round_end(ngx_http_apim_limit_ctx_t *ctx,
    ngx_http_apim_limit_round_t *round)
{
    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (ctx->sh->written < round->seq) {
        ctx->sh->written = round->seq;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_destroy_pool(round->pool);

    round->pool = NULL;
    round->nruns = 0;
    round->nbatch = 0;
}


/* one worker writes the states back on a timer */

void
ngx_http_apim_limit_start_flush(ngx_cycle_t *cycle, ngx_shm_zone_t *zone,
    ngx_msec_t interval)
{
    ngx_event_t  *ev;

    if (ngx_worker != 0 || ngx_process == NGX_PROCESS_HELPER) {
        return;
    }

    ev = &ngx_http_apim_limit_flush_ev;

    if (ev->timer_set) {
        return;
    }

    ngx_http_apim_limit_flush_interval = interval;

    ev->handler = ngx_http_apim_limit_flush_handler;
    ev->log = cycle->log;
    ev->data = zone;
    ev->cancelable = 1;

    ngx_add_timer(ev, interval);
}


/*
 * One step a turn of the event loop: with many keys in use, a flush is
 * spread over many short steps instead of one that stalls every
 * connection of this worker.
 */

static void
ngx_http_apim_limit_flush_handler(ngx_event_t *ev)
{
    ngx_int_t  rc;

    rc = ngx_http_apim_limit_flush(ev->data, ev->log, 1);

    if (!ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_add_timer(ev, (rc == NGX_AGAIN) ? 1
                                            : ngx_http_apim_limit_flush_interval);
    }
}
