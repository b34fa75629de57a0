
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's consumer commands: consumer add, update, list, show and
 * delete.  A consumer is a record under its name; deleting it revokes
 * its keys in the same transaction.
 */


#include "apimctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int apimctl_consumer_update_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data);
static int apimctl_consumer_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);


int
apimctl_consumer_add(apimctl_ctx_t *ctx)
{
    int                      rc;
    size_t                   size;
    unsigned char           *buf;
    char                     id[NGX_APIM_ID_LEN + 1];
    ngx_apim_consumer_rec_t  rec;

    if (ngx_apim_id_generate("c_", id) != 0) {
        fprintf(stderr, "apimctl: RAND_bytes() failed\n");
        return APIMCTL_FAILED;
    }

    memset(&rec, 0, sizeof(ngx_apim_consumer_rec_t));

    rec.name.data = ctx->arg;
    rec.name.len = strlen(ctx->arg);
    rec.id.data = id;
    rec.id.len = strlen(id);
    rec.plan.data = ctx->plan;
    rec.plan.len = strlen(ctx->plan);
    rec.metadata.data = ctx->metadata;
    rec.metadata.len = ctx->metadata_len;
    rec.created = ctx->now;

    size = ngx_apim_consumer_rec_size(&rec);

    buf = malloc(size);
    if (buf == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    ngx_apim_consumer_rec_encode(&rec, buf);

    rc = ngx_apim_store_insert(&ctx->st, NGX_APIM_DB_CONSUMERS, rec.name.data,
                               rec.name.len, buf, size);

    free(buf);

    if (rc == NGX_APIM_STORE_EXISTS) {
        fprintf(stderr, "apimctl: consumer \"%s\" exists\n", ctx->arg);
        return APIMCTL_FAILED;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    printf("%s\n", ctx->arg);

    return APIMCTL_OK;
}


/* the plan, or the metadata merged with --meta, in one transaction */

int
apimctl_consumer_update(apimctl_ctx_t *ctx)
{
    int  rc;

    rc = ngx_apim_store_write(&ctx->st, apimctl_consumer_update_handler, ctx);

    return apimctl_written(ctx, rc, "consumer");
}


/* APIMCTL_FAILED (a positive code, unlike the store's) when reported */

static int
apimctl_consumer_update_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    apimctl_ctx_t  *ctx = data;

    int                      rc;
    char                    *meta;
    size_t                   size, meta_len;
    unsigned char           *buf;
    ngx_apim_val_t           val;
    ngx_apim_consumer_rec_t  rec;

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_CONSUMERS, ctx->arg,
                                strlen(ctx->arg), &val);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (ngx_apim_consumer_rec_decode(&rec, val.data, val.len) != 0) {
        fprintf(stderr, "apimctl: the record of consumer \"%s\" is "
                "damaged\n", ctx->arg);
        return APIMCTL_FAILED;
    }

    meta = NULL;

    if (ctx->nmeta) {
        rc = apimctl_meta_merge(ctx, &rec.metadata, &meta, &meta_len);
        if (rc != APIMCTL_OK) {
            return rc;
        }

        rec.metadata.data = meta;
        rec.metadata.len = meta_len;
    }

    if (ctx->plan) {
        rec.plan.data = ctx->plan;
        rec.plan.len = strlen(ctx->plan);
    }

    size = ngx_apim_consumer_rec_size(&rec);

    buf = malloc(size);
    if (buf == NULL) {
        free(meta);
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    /* the record points into the map: encoded before the map changes */

    ngx_apim_consumer_rec_encode(&rec, buf);

    rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_CONSUMERS, ctx->arg,
                                strlen(ctx->arg), buf, size, 0);

    free(buf);
    free(meta);

    return rc;
}


int
apimctl_consumer_list(apimctl_ctx_t *ctx)
{
    int             rc;
    apimctl_list_t  list;

    list.ctx = ctx;
    list.damaged = 0;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    rc = ngx_apim_store_iterate(&ctx->st, NGX_APIM_DB_CONSUMERS, NULL, 0,
                                apimctl_consumer_list_handler, &list);

    ngx_apim_store_read_end(&ctx->st);

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    return list.damaged ? APIMCTL_FAILED : APIMCTL_OK;
}


static int
apimctl_consumer_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data)
{
    apimctl_list_t  *list = data;

    ngx_apim_consumer_rec_t  rec;

    if (ngx_apim_consumer_rec_decode(&rec, val->data, val->len) != 0) {
        fprintf(stderr, "apimctl: the record of consumer \"%.*s\" is "
                "damaged\n", (int) key->len, (const char *) key->data);
        list->damaged = 1;
        return NGX_APIM_STORE_OK;
    }

    printf("%.*s\t%.*s\t%.*s\n", (int) rec.name.len, rec.name.data,
           (int) rec.id.len, rec.id.data, (int) rec.plan.len, rec.plan.data);

    return NGX_APIM_STORE_OK;
}


int
apimctl_consumer_show(apimctl_ctx_t *ctx)
{
    int                      rc;
    char                     tbuf[APIMCTL_TIME_LEN];
    ngx_apim_val_t           val;
    ngx_apim_consumer_rec_t  rec;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_CONSUMERS, ctx->arg,
                            strlen(ctx->arg), &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: consumer \"%s\" not found\n", ctx->arg);
        rc = APIMCTL_FAILED;

    } else if (rc != NGX_APIM_STORE_OK) {
        rc = apimctl_store_error(ctx, rc);

    } else if (ngx_apim_consumer_rec_decode(&rec, val.data, val.len) != 0) {
        fprintf(stderr, "apimctl: the record of consumer \"%s\" is "
                "damaged\n", ctx->arg);
        rc = APIMCTL_FAILED;

    } else {
        apimctl_field("name", &rec.name);
        apimctl_field("id", &rec.id);
        apimctl_field("plan", &rec.plan);
        printf("created: %s\n", apimctl_time(rec.created, tbuf));
        apimctl_field("metadata", &rec.metadata);
        rc = APIMCTL_OK;
    }

    ngx_apim_store_read_end(&ctx->st);

    return rc;
}


/* the consumer and every key of it, in one transaction */

int
apimctl_consumer_delete(apimctl_ctx_t *ctx)
{
    int  rc;

    rc = ngx_apim_ops_consumer_delete(&ctx->st, ctx->arg, strlen(ctx->arg),
                                      NULL);

    return apimctl_written(ctx, rc, "consumer");
}
