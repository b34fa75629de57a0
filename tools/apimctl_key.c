
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's key commands: key add, import, import-file, list, show,
 * update, rotate and revoke, and usage (a key's count in its quota
 * window, and its reset).  A key is stored
 * as keys[HMAC] = its record and key_ids[id] = HMAC, both written or
 * deleted in one transaction; the key itself is never stored, and only
 * "key add" prints one.
 */


#include "apimctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>


#define APIMCTL_BATCH             10000  /* keys a write transaction */


typedef struct {
    apimctl_ctx_t             *ctx;
    size_t                     n;
    size_t                     line;         /* of the first key */
    size_t                     existed;      /* in this batch */
    int                        no_consumer;
    char                     (*ids)[NGX_APIM_ID_LEN + 1];
    unsigned char            (*hashes)[NGX_APIM_HASH_LEN];
    unsigned char             *rec;          /* with a placeholder id */
    size_t                     rec_len;
    size_t                     id_offset;
} apimctl_batch_t;


static int apimctl_write(int fd, const char *buf, size_t len);
static int apimctl_consumer_exists(apimctl_ctx_t *ctx);
static int apimctl_key_file_check(apimctl_ctx_t *ctx, FILE *f, char **line,
    size_t *cap);
static int apimctl_key_batch_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int apimctl_key_put(apimctl_ctx_t *ctx, const char *key, size_t len,
    const char *id);
static int apimctl_key_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static int apimctl_key_get(apimctl_ctx_t *ctx, const char *id, size_t len,
    ngx_apim_key_rec_t *rec);
static int apimctl_key_update_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static const char *apimctl_key_status(apimctl_ctx_t *ctx,
    const ngx_apim_key_rec_t *rec);


int
apimctl_key_add(apimctl_ctx_t *ctx)
{
    int   rc, tries;
    char  id[NGX_APIM_ID_LEN + 1];
    char  key[NGX_APIM_KEY_LEN + 1];

    for (tries = 0; /* void */ ; tries++) {
        if (ngx_apim_key_generate(key, id) != 0) {
            fprintf(stderr, "apimctl: RAND_bytes() failed\n");
            return APIMCTL_FAILED;
        }

        rc = apimctl_key_put(ctx, key, NGX_APIM_KEY_LEN, id);

        if (rc != APIMCTL_RETRY || tries == 2) {
            break;
        }
    }

    if (rc != APIMCTL_OK) {
        OPENSSL_cleanse(key, sizeof(key));
        return (rc == APIMCTL_RETRY) ? APIMCTL_FAILED : rc;
    }

    /* written past stdio, so that no buffer is left holding the key */

    key[NGX_APIM_KEY_LEN] = '\n';
    rc = apimctl_write(STDOUT_FILENO, key, NGX_APIM_KEY_LEN + 1);
    OPENSSL_cleanse(key, sizeof(key));

    if (rc != 0) {
        /* nobody has seen the key: keep no key nobody has */
        fprintf(stderr, "apimctl: cannot write the key to stdout: %s; "
                "key %s is revoked\n", strerror(errno), id);
        (void) ngx_apim_ops_key_revoke(&ctx->st, id, strlen(id));
        return APIMCTL_FAILED;
    }

    fprintf(stderr, "apimctl: key %s created; the key is shown only this "
            "once\n", id);

    return APIMCTL_OK;
}


static int
apimctl_write(int fd, const char *buf, size_t len)
{
    ssize_t  n;

    if (fflush(stdout) != 0) {
        return -1;
    }

    while (len) {
        n = write(fd, buf, len);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            return -1;
        }

        buf += n;
        len -= n;
    }

    return 0;
}


int
apimctl_key_import(apimctl_ctx_t *ctx)
{
    int   rc, tries;
    char  id[NGX_APIM_ID_LEN + 1];

    for (tries = 0; /* void */ ; tries++) {
        if (ngx_apim_id_generate("ik_", id) != 0) {
            fprintf(stderr, "apimctl: RAND_bytes() failed\n");
            return APIMCTL_FAILED;
        }

        rc = apimctl_key_put(ctx, ctx->key, ctx->key_len, id);

        if (rc != APIMCTL_RETRY || tries == 2) {
            break;
        }
    }

    if (rc != APIMCTL_OK) {
        return (rc == APIMCTL_RETRY) ? APIMCTL_FAILED : rc;
    }

    printf("%s\n", id);

    return APIMCTL_OK;
}


/*
 * A migration: the keys of a file, one a line, stored APIMCTL_BATCH to a
 * transaction with the same consumer, plan and options.  A key already in
 * the store is left as it is (counted, not an error), so that the same
 * file can be imported again; an invalid line stops the import, naming
 * its number, never its text.
 */

int
apimctl_key_import_file(apimctl_ctx_t *ctx)
{
    int                  rc;
    FILE                *f;
    char                *line, *p;
    size_t               cap, len, i, lineno, total, existed;
    ssize_t              n;
    apimctl_batch_t      b;
    ngx_apim_key_rec_t   rec;
    char                 placeholder[NGX_APIM_ID_LEN + 1];

    f = fopen(ctx->arg, "r");
    if (f == NULL) {
        fprintf(stderr, "apimctl: cannot open %s: %s\n",
                apimctl_quote(ctx->arg), strerror(errno));
        return APIMCTL_FAILED;
    }

    memset(&b, 0, sizeof(apimctl_batch_t));
    memset(&rec, 0, sizeof(ngx_apim_key_rec_t));
    memset(placeholder, 'x', NGX_APIM_ID_LEN);
    placeholder[NGX_APIM_ID_LEN] = '\0';

    /* one record for all: only the id differs, written in place */

    rec.id.data = placeholder;
    rec.id.len = NGX_APIM_ID_LEN;
    rec.consumer.data = ctx->consumer;
    rec.consumer.len = strlen(ctx->consumer);
    rec.plan.data = ctx->plan;
    rec.plan.len = ctx->plan ? strlen(ctx->plan) : 0;
    rec.apis.data = ctx->apis;
    rec.apis.len = ctx->apis ? strlen(ctx->apis) : 0;
    rec.metadata.data = ctx->metadata;
    rec.metadata.len = ctx->metadata_len;
    rec.created = ctx->now;
    rec.not_before = ctx->not_before;
    rec.expires_at = ctx->expires;

    b.ctx = ctx;
    b.rec_len = ngx_apim_key_rec_size(&rec);
    b.rec = malloc(b.rec_len);
    b.ids = malloc(APIMCTL_BATCH * sizeof(*b.ids));
    b.hashes = malloc(APIMCTL_BATCH * sizeof(*b.hashes));

    if (b.rec == NULL || b.ids == NULL || b.hashes == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        rc = APIMCTL_FAILED;
        goto done;
    }

    ngx_apim_key_rec_encode(&rec, b.rec);

    p = memmem(b.rec, b.rec_len, placeholder, NGX_APIM_ID_LEN);
    b.id_offset = (unsigned char *) p - b.rec;

    line = NULL;
    cap = 0;
    lineno = 0;
    total = 0;
    existed = 0;

    /* the consumer, and every line, are checked before any key is stored */

    rc = apimctl_consumer_exists(ctx);

    if (rc == APIMCTL_OK) {
        rc = apimctl_key_file_check(ctx, f, &line, &cap);
    }

    for ( ;; ) {
        if (rc != APIMCTL_OK) {
            break;
        }

        n = getline(&line, &cap, f);

        if (n != -1) {
            lineno++;
            len = (size_t) n;

            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
                len--;
            }

            if (len == 0) {
                continue;
            }

            if (b.n == 0) {
                b.line = lineno;
            }

            if (ngx_apim_id_generate("ik_", b.ids[b.n]) != 0) {
                fprintf(stderr, "apimctl: RAND_bytes() failed\n");
                rc = APIMCTL_FAILED;
                break;
            }

            ngx_apim_hmac(&ctx->hmac, (unsigned char *) line, len,
                          b.hashes[b.n]);
            b.n++;
        }

        if (b.n == APIMCTL_BATCH || (n == -1 && b.n)) {
            rc = ngx_apim_store_write(&ctx->st, apimctl_key_batch_handler, &b);

            if (b.no_consumer) {
                fprintf(stderr, "apimctl: consumer \"%s\" not found\n",
                        ctx->consumer);
                rc = APIMCTL_FAILED;
                break;
            }

            if (rc != NGX_APIM_STORE_OK) {
                rc = apimctl_store_error(ctx, rc);
                fprintf(stderr, "apimctl: %zu keys were stored before line "
                        "%zu\n", total, b.line);
                break;
            }

            for (i = 0; i < b.n; i++) {
                printf("%s\n", b.ids[i]);
            }

            total += b.n;
            existed += b.existed;
            b.n = 0;
        }

        if (n == -1) {
            break;
        }
    }

    if (line) {
        OPENSSL_cleanse(line, cap);
        free(line);
    }

    if (rc == APIMCTL_OK) {
        fprintf(stderr, "apimctl: %zu keys read: %zu stored, %zu there "
                "already (with the ids they had)\n", total, total - existed,
                existed);
    }

done:

    fclose(f);
    free(b.rec);
    free(b.ids);
    free(b.hashes);

    return rc;
}


static int
apimctl_consumer_exists(apimctl_ctx_t *ctx)
{
    int             rc;
    ngx_apim_val_t  val;

    rc = ngx_apim_store_read_begin(&ctx->st);

    if (rc == NGX_APIM_STORE_OK) {
        rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_CONSUMERS, ctx->consumer,
                                strlen(ctx->consumer), &val);
        ngx_apim_store_read_end(&ctx->st);
    }

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: consumer \"%s\" not found\n", ctx->consumer);
        return APIMCTL_FAILED;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    return APIMCTL_OK;
}


/* the first pass of import-file: every non-empty line is a valid key */

static int
apimctl_key_file_check(apimctl_ctx_t *ctx, FILE *f, char **line, size_t *cap)
{
    size_t   len, lineno;
    ssize_t  n;

    lineno = 0;

    while ((n = getline(line, cap, f)) != -1) {
        lineno++;
        len = (size_t) n;

        while (len && ((*line)[len - 1] == '\n' || (*line)[len - 1] == '\r')) {
            len--;
        }

        if (len && !ngx_apim_key_valid((unsigned char *) *line, len)) {
            fprintf(stderr, "apimctl: line %zu of %s is not a valid key (a "
                    "key is %d to %d printable ASCII characters); nothing "
                    "was stored\n", lineno, apimctl_quote(ctx->arg),
                    NGX_APIM_KEY_MIN, NGX_APIM_KEY_MAX);
            return APIMCTL_USAGE;
        }
    }

    if (ferror(f) || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "apimctl: cannot read %s: %s\n",
                apimctl_quote(ctx->arg), strerror(errno));
        return APIMCTL_FAILED;
    }

    return APIMCTL_OK;
}


static int
apimctl_key_batch_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    apimctl_batch_t  *b = data;

    int                  rc;
    size_t               i;
    ngx_apim_val_t       val;
    ngx_apim_key_rec_t   rec;
    const char          *consumer;

    /* it runs again if the map grows */

    b->existed = 0;
    b->no_consumer = 0;
    consumer = b->ctx->consumer;

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_CONSUMERS, consumer,
                                strlen(consumer), &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        b->no_consumer = 1;
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    for (i = 0; i < b->n; i++) {
        memcpy(b->rec + b->id_offset, b->ids[i], NGX_APIM_ID_LEN);

        rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEYS, b->hashes[i],
                                    NGX_APIM_HASH_LEN, b->rec, b->rec_len,
                                    MDB_NOOVERWRITE);

        if (rc == NGX_APIM_STORE_EXISTS) {
            /* report the id the key already has */

            b->existed++;

            if (ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEYS,
                                       b->hashes[i], NGX_APIM_HASH_LEN, &val)
                == NGX_APIM_STORE_OK
                && ngx_apim_key_rec_decode(&rec, val.data, val.len) == 0
                && rec.id.len == NGX_APIM_ID_LEN)
            {
                memcpy(b->ids[i], rec.id.data, NGX_APIM_ID_LEN);
            }

            continue;
        }

        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }

        rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEY_IDS, b->ids[i],
                                    NGX_APIM_ID_LEN, b->hashes[i],
                                    NGX_APIM_HASH_LEN, MDB_NOOVERWRITE);
        if (rc != NGX_APIM_STORE_OK) {
            /* a random id taken (1 in 62^11): the batch fails whole */
            return rc;
        }
    }

    return NGX_APIM_STORE_OK;
}


/*
 * keys[HMAC] = record and key_ids[id] = HMAC in one transaction, and
 * only for a consumer that exists in it
 */

static int
apimctl_key_put(apimctl_ctx_t *ctx, const char *key, size_t len,
    const char *id)
{
    int                     rc;
    size_t                  size;
    unsigned char          *buf;
    ngx_apim_key_rec_t      rec;
    ngx_apim_ops_key_add_t  op;
    unsigned char           hash[NGX_APIM_HASH_LEN];

    memset(&rec, 0, sizeof(ngx_apim_key_rec_t));

    rec.id.data = id;
    rec.id.len = strlen(id);
    rec.consumer.data = ctx->consumer;
    rec.consumer.len = strlen(ctx->consumer);

    if (ctx->plan) {
        rec.plan.data = ctx->plan;
        rec.plan.len = strlen(ctx->plan);
    }

    if (ctx->apis) {
        rec.apis.data = ctx->apis;
        rec.apis.len = strlen(ctx->apis);
    }

    rec.metadata.data = ctx->metadata;
    rec.metadata.len = ctx->metadata_len;
    rec.created = ctx->now;
    rec.not_before = ctx->not_before;
    rec.expires_at = ctx->expires;

    size = ngx_apim_key_rec_size(&rec);

    buf = malloc(size);
    if (buf == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    ngx_apim_key_rec_encode(&rec, buf);

    ngx_apim_hmac(&ctx->hmac, (const unsigned char *) key, len, hash);

    memset(&op, 0, sizeof(ngx_apim_ops_key_add_t));

    op.consumer = rec.consumer.data;
    op.consumer_len = rec.consumer.len;
    op.id = id;
    op.id_len = rec.id.len;
    op.hash = hash;
    op.rec = buf;
    op.rec_len = size;

    rc = ngx_apim_ops_key_add(&ctx->st, &op);

    free(buf);

    if (op.no_consumer) {
        fprintf(stderr, "apimctl: consumer \"%s\" not found\n",
                ctx->consumer);
        return APIMCTL_FAILED;
    }

    if (op.key_exists) {
        fprintf(stderr, "apimctl: this key exists already (id %s)\n",
                op.other[0] ? op.other : "unknown");
        return APIMCTL_FAILED;
    }

    if (op.id_exists) {
        return APIMCTL_RETRY;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    return APIMCTL_OK;
}


int
apimctl_key_list(apimctl_ctx_t *ctx)
{
    int             rc;
    ngx_apim_val_t  val;
    apimctl_list_t  list;

    list.ctx = ctx;
    list.damaged = 0;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    if (ctx->consumer) {
        rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_CONSUMERS,
                                ctx->consumer, strlen(ctx->consumer), &val);

        if (rc == NGX_APIM_STORE_NOT_FOUND) {
            ngx_apim_store_read_end(&ctx->st);
            fprintf(stderr, "apimctl: consumer \"%s\" not found\n",
                    ctx->consumer);
            return APIMCTL_FAILED;
        }
    }

    if (rc == NGX_APIM_STORE_OK) {
        rc = ngx_apim_store_iterate(&ctx->st, NGX_APIM_DB_KEY_IDS, NULL, 0,
                                    apimctl_key_list_handler, &list);
    }

    ngx_apim_store_read_end(&ctx->st);

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    return list.damaged ? APIMCTL_FAILED : APIMCTL_OK;
}


static int
apimctl_key_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data)
{
    apimctl_list_t  *list = data;

    int                      rc;
    apimctl_ctx_t           *ctx;
    ngx_apim_val_t           cv;
    ngx_apim_str_t           plan;
    ngx_apim_key_rec_t       rec;
    ngx_apim_consumer_rec_t  consumer;

    ctx = list->ctx;

    rc = apimctl_key_get(ctx, key->data, key->len, &rec);

    if (rc == NGX_APIM_STORE_ERROR) {
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        list->damaged = 1;
        return NGX_APIM_STORE_OK;
    }

    if (ctx->consumer
        && (rec.consumer.len != strlen(ctx->consumer)
            || memcmp(rec.consumer.data, ctx->consumer, rec.consumer.len)
               != 0))
    {
        return NGX_APIM_STORE_OK;
    }

    if (ctx->plan) {
        plan = rec.plan;

        /* a key without a plan of its own has its consumer's */

        if (plan.len == 0
            && ngx_apim_store_get(&ctx->st, NGX_APIM_DB_CONSUMERS,
                                  rec.consumer.data, rec.consumer.len, &cv)
               == NGX_APIM_STORE_OK
            && ngx_apim_consumer_rec_decode(&consumer, cv.data, cv.len) == 0)
        {
            plan = consumer.plan;
        }

        if (plan.len != strlen(ctx->plan)
            || memcmp(plan.data, ctx->plan, plan.len) != 0)
        {
            return NGX_APIM_STORE_OK;
        }
    }

    printf("%.*s\t%.*s\t%.*s\t%s\n", (int) key->len, (const char *) key->data,
           (int) rec.consumer.len, rec.consumer.data,
           rec.plan.len ? (int) rec.plan.len : 1,
           rec.plan.len ? rec.plan.data : "-",
           apimctl_key_status(ctx, &rec));

    return NGX_APIM_STORE_OK;
}


/*
 * A key's record by its id, in the read transaction: OK, NOT_FOUND (no
 * such id), ERROR (reported), or NGX_APIM_STORE_EXISTS for a damaged or
 * missing record (reported).
 */

static int
apimctl_key_get(apimctl_ctx_t *ctx, const char *id, size_t len,
    ngx_apim_key_rec_t *rec)
{
    int             rc;
    ngx_apim_val_t  val;

    rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_KEY_IDS, id, len, &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return NGX_APIM_STORE_ERROR;
    }

    if (val.len == NGX_APIM_HASH_LEN) {
        rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_KEYS, val.data,
                                NGX_APIM_HASH_LEN, &val);

        if (rc == NGX_APIM_STORE_ERROR) {
            return rc;
        }

        if (rc == NGX_APIM_STORE_OK
            && ngx_apim_key_rec_decode(rec, val.data, val.len) == 0)
        {
            return NGX_APIM_STORE_OK;
        }
    }

    fprintf(stderr, "apimctl: the record of key \"%.*s\" is damaged\n",
            (int) len, id);

    return NGX_APIM_STORE_EXISTS;
}


int
apimctl_key_show(apimctl_ctx_t *ctx)
{
    int                 rc;
    char                tbuf[APIMCTL_TIME_LEN];
    ngx_apim_key_rec_t  rec;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    rc = apimctl_key_get(ctx, ctx->arg, strlen(ctx->arg), &rec);

    if (rc == NGX_APIM_STORE_OK) {
        apimctl_field("id", &rec.id);
        apimctl_field("consumer", &rec.consumer);
        apimctl_field("plan", &rec.plan);
        apimctl_field("apis", &rec.apis);
        printf("created: %s\n", apimctl_time(rec.created, tbuf));
        printf("not_before: %s\n", apimctl_time(rec.not_before, tbuf));
        printf("expires_at: %s\n", apimctl_time(rec.expires_at, tbuf));
        printf("status: %s\n", apimctl_key_status(ctx, &rec));
        apimctl_field("metadata", &rec.metadata);
    }

    ngx_apim_store_read_end(&ctx->st);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: key \"%s\" not found\n", ctx->arg);
        return APIMCTL_FAILED;
    }

    if (rc == NGX_APIM_STORE_ERROR) {
        return apimctl_store_error(ctx, rc);
    }

    return (rc == NGX_APIM_STORE_OK) ? APIMCTL_OK : APIMCTL_FAILED;
}


int
apimctl_key_update(apimctl_ctx_t *ctx)
{
    int  rc;

    rc = ngx_apim_store_write(&ctx->st, apimctl_key_update_handler, ctx);

    return apimctl_written(ctx, rc, "key");
}


static int
apimctl_key_update_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    apimctl_ctx_t  *ctx = data;

    int                  rc;
    char                *meta;
    size_t               size, meta_len;
    unsigned char       *buf;
    ngx_apim_key_rec_t   rec;
    unsigned char        hash[NGX_APIM_HASH_LEN];

    rc = ngx_apim_ops_key_get(st, txn, ctx->arg, strlen(ctx->arg), hash,
                              &rec);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (ctx->given & APIMCTL_OPT_PLAN) {
        rec.plan.data = ctx->plan;
        rec.plan.len = ctx->plan ? strlen(ctx->plan) : 0;
    }

    if (ctx->given & APIMCTL_OPT_APIS) {
        rec.apis.data = ctx->apis;
        rec.apis.len = ctx->apis ? strlen(ctx->apis) : 0;
    }

    if (ctx->given & APIMCTL_OPT_EXPIRES) {
        rec.expires_at = ctx->expires;
    }

    if (ctx->given & APIMCTL_OPT_NOT_BEFORE) {
        rec.not_before = ctx->not_before;
    }

    if (rec.not_before && rec.expires_at
        && rec.not_before >= rec.expires_at)
    {
        fprintf(stderr, "apimctl: the key's not_before would not be before "
                "its expires_at; nothing was changed\n");
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

    size = ngx_apim_key_rec_size(&rec);

    buf = malloc(size);
    if (buf == NULL) {
        free(meta);
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    /* the record points into the map: encoded before the map changes */

    ngx_apim_key_rec_encode(&rec, buf);

    rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEYS, hash,
                                NGX_APIM_HASH_LEN, buf, size, 0);

    free(buf);
    free(meta);

    return rc;
}


/*
 * A new key for an old one, by ngx_apim_ops_key_rotate(): the old one's
 * record and usage, the old key's expiry moved to now + grace, never
 * later than it was.  The key is printed only after the commit.
 */

int
apimctl_key_rotate(apimctl_ctx_t *ctx)
{
    int                        rc, tries;
    char                       key[NGX_APIM_KEY_LEN + 1];
    char                       new_id[NGX_APIM_ID_LEN + 1];
    char                       tbuf[APIMCTL_TIME_LEN];
    unsigned char              new_hash[NGX_APIM_HASH_LEN];
    ngx_apim_ops_key_rotate_t  rot;

    memset(&rot, 0, sizeof(ngx_apim_ops_key_rotate_t));

    rot.id = ctx->arg;
    rot.id_len = strlen(ctx->arg);
    rot.new_id = new_id;
    rot.new_id_len = NGX_APIM_ID_LEN;
    rot.new_hash = new_hash;
    rot.now = ctx->now;
    rot.grace = ctx->grace;

    for (tries = 0; /* void */ ; tries++) {
        if (ngx_apim_key_generate(key, new_id) != 0) {
            fprintf(stderr, "apimctl: RAND_bytes() failed\n");
            return APIMCTL_FAILED;
        }

        ngx_apim_hmac(&ctx->hmac, (unsigned char *) key, NGX_APIM_KEY_LEN,
                      new_hash);

        rc = ngx_apim_ops_key_rotate(&ctx->st, &rot);

        if (!rot.id_exists || tries == 2) {
            break;
        }
    }

    free(rot.new_rec);

    if (rc != NGX_APIM_STORE_OK) {
        OPENSSL_cleanse(key, sizeof(key));

        if (rc == NGX_APIM_STORE_NOT_FOUND) {
            fprintf(stderr, "apimctl: key \"%s\" not found\n", ctx->arg);
            return APIMCTL_FAILED;
        }

        if (rot.expired) {
            fprintf(stderr, "apimctl: key \"%s\" expired at %s: a new key "
                    "would take its expiry; give it a later one with \"key "
                    "update --expires\" first\n", ctx->arg,
                    apimctl_time(rot.old_expires, tbuf));
            return APIMCTL_FAILED;
        }

        return apimctl_store_error(ctx, rc);
    }

    key[NGX_APIM_KEY_LEN] = '\n';
    rc = apimctl_write(STDOUT_FILENO, key, NGX_APIM_KEY_LEN + 1);
    OPENSSL_cleanse(key, sizeof(key));

    if (rc != 0) {
        /* the old key's expiry stays moved: revoke the new one only */
        fprintf(stderr, "apimctl: cannot write the key to stdout: %s; "
                "key %s is revoked\n", strerror(errno), new_id);
        (void) ngx_apim_ops_key_revoke(&ctx->st, new_id, NGX_APIM_ID_LEN);
        return APIMCTL_FAILED;
    }

    fprintf(stderr, "apimctl: key %s replaces %s, which stops working at "
            "%s; the key is shown only this once\n", new_id, ctx->arg,
            apimctl_time(rot.old_expires, tbuf));

    return APIMCTL_OK;
}


int
apimctl_key_revoke(apimctl_ctx_t *ctx)
{
    int  rc;

    rc = ngx_apim_ops_key_revoke(&ctx->st, ctx->arg, strlen(ctx->arg));

    return apimctl_written(ctx, rc, "key");
}


int
apimctl_usage_show(apimctl_ctx_t *ctx)
{
    int                   rc;
    char                  tbuf[APIMCTL_TIME_LEN];
    char                  name[sizeof(NGX_APIM_USAGE_PREFIX)
                               + NGX_APIM_ID_LEN];
    ngx_apim_val_t        val;
    ngx_apim_key_rec_t    rec;
    ngx_apim_usage_rec_t  usage;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    rc = apimctl_key_get(ctx, ctx->arg, strlen(ctx->arg), &rec);

    if (rc == NGX_APIM_STORE_OK) {
        snprintf(name, sizeof(name), "%s%s", NGX_APIM_USAGE_PREFIX,
                 ctx->arg);

        rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_COUNTERS, name,
                                strlen(name), &val);

        if (rc == NGX_APIM_STORE_NOT_FOUND) {
            memset(&usage, 0, sizeof(ngx_apim_usage_rec_t));
            rc = NGX_APIM_STORE_OK;

        } else if (rc == NGX_APIM_STORE_OK
                   && ngx_apim_usage_rec_decode(&usage, val.data, val.len)
                      != 0)
        {
            fprintf(stderr, "apimctl: the usage record of key \"%s\" is "
                    "damaged\n", ctx->arg);
            rc = NGX_APIM_STORE_EXISTS;

        } else if (rc == NGX_APIM_STORE_OK && usage.gen != rec.usage_gen) {
            /* counted before a reset: nginx reads it as no usage */
            memset(&usage, 0, sizeof(ngx_apim_usage_rec_t));
        }
    }

    ngx_apim_store_read_end(&ctx->st);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: key \"%s\" not found\n", ctx->arg);
        return APIMCTL_FAILED;
    }

    if (rc == NGX_APIM_STORE_ERROR) {
        return apimctl_store_error(ctx, rc);
    }

    if (rc != NGX_APIM_STORE_OK) {
        return APIMCTL_FAILED;
    }

    printf("id: %s\n", ctx->arg);
    printf("window_start: %s\n", apimctl_time(usage.window_start, tbuf));
    printf("window_end: %s\n",
           apimctl_time(usage.window_start ? usage.window_end : 0, tbuf));
    printf("used: %lld\n", (long long) usage.count);

    return APIMCTL_OK;
}


/* the key must exist: a usage record of no key is not made */

int
apimctl_usage_reset(apimctl_ctx_t *ctx)
{
    int  rc;

    rc = ngx_apim_ops_usage_reset(&ctx->st, ctx->arg, strlen(ctx->arg));

    return apimctl_written(ctx, rc, "key");
}


/*
 * A key's usage set in a write transaction (import, rotate), through
 * ngx_apim_usage_restore(): it bumps the key's usage generation, so that
 * a running nginx drops the count it holds and reads this one.
 */

int
apimctl_usage_put(ngx_apim_store_t *st, MDB_txn *txn, const char *id,
    const ngx_apim_usage_rec_t *usage)
{
    return ngx_apim_usage_restore(st, txn, id, strlen(id), usage);
}


/*
 * NGX_APIM_STORE_NOT_FOUND when the key has no usage record, or one of
 * another generation than the key's (a flush that raced with a reset)
 */

int
apimctl_usage_get(ngx_apim_store_t *st, MDB_txn *txn, const char *id,
    uint32_t gen, ngx_apim_usage_rec_t *usage)
{
    int             rc;
    char            name[sizeof(NGX_APIM_USAGE_PREFIX) + NGX_APIM_ID_LEN];
    ngx_apim_val_t  val;

    snprintf(name, sizeof(name), "%s%s", NGX_APIM_USAGE_PREFIX, id);

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_COUNTERS, name,
                                strlen(name), &val);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (ngx_apim_usage_rec_decode(usage, val.data, val.len) != 0) {
        fprintf(stderr, "apimctl: the usage record of key \"%s\" is "
                "damaged\n", id);
        return APIMCTL_FAILED;
    }

    return (usage->gen == gen) ? NGX_APIM_STORE_OK : NGX_APIM_STORE_NOT_FOUND;
}


static const char *
apimctl_key_status(apimctl_ctx_t *ctx, const ngx_apim_key_rec_t *rec)
{
    if (rec->flags & NGX_APIM_KEY_DISABLED) {
        return "disabled";
    }

    if (rec->expires_at && ctx->now >= rec->expires_at) {
        return "expired";
    }

    if (rec->not_before && ctx->now < rec->not_before) {
        return "not-yet-valid";
    }

    return "active";
}
