
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The admin API's keys: create (or import) a key, list them (paged by
 * id, filtered by consumer or plan), show, change, revoke, and rotate.
 * A key is stored as apimctl stores it: keys[HMAC] = its record and
 * key_ids[id] = HMAC, written or deleted in one transaction; the key
 * itself is never stored and is shown once, in the answer that makes it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/crypto.h>

#include "ngx_apim_ops.h"
#include "ngx_http_apim_admin.h"
#include "ngx_http_apim_plan.h"


#define NGX_HTTP_APIM_ADMIN_TRIES  3      /* a random id already taken */


typedef struct {
    ngx_str_t                  id;
    ngx_pool_t                *pool;
    ngx_http_apim_json_t     **v;           /* the PATCH fields */
    ngx_str_t                  apis;
    ngx_str_t                  metadata;
    int64_t                    not_before;
    int64_t                    expires_at;
    u_char                    *rec;
    size_t                     rec_len;
} ngx_http_apim_admin_key_patch_t;


typedef struct {
    ngx_http_apim_admin_page_t   page;
    ngx_apim_store_t            *st;
    ngx_int_t                    rc;
    ngx_str_t                    consumer;  /* filters; empty: any */
    ngx_str_t                    plan;
} ngx_http_apim_admin_key_list_t;


static ngx_int_t ngx_http_apim_admin_key_input(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_http_apim_json_t **v,
    ngx_uint_t patch, ngx_str_t *apis, ngx_str_t *metadata,
    int64_t *not_before, int64_t *expires_at, ngx_str_t *detail);
static int ngx_http_apim_admin_key_item(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static int ngx_http_apim_admin_key_patch_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data);
static ngx_int_t ngx_http_apim_admin_key_done(ngx_http_request_t *r,
    ngx_uint_t status, u_char *rec, size_t len, ngx_str_t *key,
    ngx_str_t *previous, int64_t previous_expires);


/* the order of the first six is shared by create and PATCH */

static ngx_http_apim_admin_field_t  ngx_http_apim_admin_key_create_fields[] = {
    { "plan", NGX_HTTP_APIM_ADMIN_T(STRING) },
    { "apis", NGX_HTTP_APIM_ADMIN_T(ARRAY) },
    { "not_before", NGX_HTTP_APIM_ADMIN_T(STRING) },
    { "expires_at", NGX_HTTP_APIM_ADMIN_T(STRING) },
    { "metadata", NGX_HTTP_APIM_ADMIN_T(OBJECT) },
    { "consumer", NGX_HTTP_APIM_ADMIN_T(STRING) },
    { "key", NGX_HTTP_APIM_ADMIN_T(STRING) },
    { NULL, 0 }
};


static ngx_http_apim_admin_field_t  ngx_http_apim_admin_key_patch_fields[] = {
    { "plan", NGX_HTTP_APIM_ADMIN_T(STRING) | NGX_HTTP_APIM_ADMIN_T(NULL) },
    { "apis", NGX_HTTP_APIM_ADMIN_T(ARRAY) | NGX_HTTP_APIM_ADMIN_T(NULL) },
    { "not_before", NGX_HTTP_APIM_ADMIN_T(STRING)
                    | NGX_HTTP_APIM_ADMIN_T(NULL) },
    { "expires_at", NGX_HTTP_APIM_ADMIN_T(STRING)
                    | NGX_HTTP_APIM_ADMIN_T(NULL) },
    { "metadata", NGX_HTTP_APIM_ADMIN_T(OBJECT) | NGX_HTTP_APIM_ADMIN_T(NULL) },
    { "disabled", NGX_HTTP_APIM_ADMIN_T(BOOL) },
    { NULL, 0 }
};


static ngx_http_apim_admin_field_t  ngx_http_apim_admin_key_rotate_fields[] = {
    { "grace", NGX_HTTP_APIM_ADMIN_T(INT) },
    { NULL, 0 }
};


ngx_int_t
ngx_http_apim_admin_key_create(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    int                      rc;
    ngx_int_t                n;
    ngx_str_t                detail, apis, meta, key, other, *name;
    ngx_uint_t               tries;
    ngx_apim_store_t        *st;
    ngx_apim_key_rec_t       rec;
    ngx_http_apim_json_t    *v[7];
    ngx_apim_ops_key_add_t   op;
    int64_t                  not_before, expires_at;
    u_char                   hash[NGX_APIM_HASH_LEN];
    char                     id[NGX_APIM_ID_LEN + 1];
    char                     gen[NGX_APIM_KEY_LEN + 1];

    n = ngx_http_apim_admin_fields(r, ctx,
                                   ngx_http_apim_admin_key_create_fields,
                                   v, &detail);
    if (n == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    if (v[5] == NULL) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                         "\"consumer\" is required");
    }

    name = &v[5]->str;

    if (!ngx_apim_name_valid((char *) name->data, name->len)) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                         "\"consumer\" must be 1 to 64 of "
                                         "A-Z a-z 0-9 . _ -");
    }

    if (v[6] && !ngx_apim_key_valid(v[6]->str.data, v[6]->str.len)) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                         "\"key\" must be %d to %d printable "
                                         "ASCII characters without spaces",
                                         NGX_APIM_KEY_MIN, NGX_APIM_KEY_MAX);
    }

    not_before = 0;
    expires_at = 0;

    n = ngx_http_apim_admin_key_input(r, ctx, v, 0, &apis, &meta,
                                      &not_before, &expires_at, &detail);
    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    if (n != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st = ngx_http_apim_store();

    if (st == NULL) {
        return ngx_http_apim_admin_store_error(r, NULL);
    }

    ngx_memzero(&op, sizeof(ngx_apim_ops_key_add_t));

    op.consumer = (char *) name->data;
    op.consumer_len = name->len;
    op.hash = hash;

    for (tries = 0; /* void */ ; tries++) {

        if (v[6]) {
            if (ngx_apim_id_generate("ik_", id) != 0) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            key = v[6]->str;

        } else {
            if (ngx_apim_key_generate(gen, id) != 0) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            key.data = (u_char *) gen;
            key.len = NGX_APIM_KEY_LEN;
        }

        ngx_memzero(&rec, sizeof(ngx_apim_key_rec_t));

        rec.id.data = id;
        rec.id.len = ngx_strlen(id);
        rec.consumer.data = (char *) name->data;
        rec.consumer.len = name->len;

        if (v[0]) {
            rec.plan.data = (char *) v[0]->str.data;
            rec.plan.len = v[0]->str.len;
        }

        rec.apis.data = (char *) apis.data;
        rec.apis.len = apis.len;
        rec.metadata.data = (char *) meta.data;
        rec.metadata.len = meta.len;
        rec.created = ngx_time();
        rec.not_before = not_before;
        rec.expires_at = expires_at;

        op.rec_len = ngx_apim_key_rec_size(&rec);
        op.rec = ngx_pnalloc(r->pool, op.rec_len);
        if (op.rec == NULL) {
            OPENSSL_cleanse(gen, sizeof(gen));
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_apim_key_rec_encode(&rec, (u_char *) op.rec);

        op.id = id;
        op.id_len = rec.id.len;

        ngx_apim_hmac(ctx->conf->hmac, key.data, key.len, hash);

        rc = ngx_apim_ops_key_add(st, &op);

        if (!op.id_exists || tries == NGX_HTTP_APIM_ADMIN_TRIES - 1) {
            break;
        }
    }

    if (op.no_consumer) {
        OPENSSL_cleanse(gen, sizeof(gen));
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                         "\"consumer\": no consumer \"%V\"",
                                         name);
    }

    if (op.key_exists) {
        OPENSSL_cleanse(gen, sizeof(gen));

        other.data = (u_char *) op.other;
        other.len = ngx_strlen(op.other);

        if (other.len == 0) {
            ngx_str_set(&other, "unknown");
        }

        return ngx_http_apim_admin_error(r, NGX_HTTP_CONFLICT,
                                         "\"key\": this key exists already "
                                         "(id \"%V\")", &other);
    }

    if (rc != NGX_APIM_STORE_OK) {
        OPENSSL_cleanse(gen, sizeof(gen));
        return ngx_http_apim_admin_store_error(r, st);
    }

    other.data = (u_char *) id;
    other.len = op.id_len;

    ngx_http_apim_admin_log(r, v[6] ? "imported key" : "created key",
                            &other);

    /* the one answer that holds the key */

    rc = ngx_http_apim_admin_key_done(r, NGX_HTTP_CREATED, (u_char *) op.rec,
                                      op.rec_len, &key, NULL, 0);

    OPENSSL_cleanse(gen, sizeof(gen));

    return rc;
}


/*
 * The fields create and PATCH share: v[0] plan, v[1] apis, v[2]
 * not_before, v[3] expires_at, v[4] metadata.  NGX_OK; NGX_DECLINED with
 * the detail of the 400; NGX_ERROR.
 */

static ngx_int_t
ngx_http_apim_admin_key_input(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_http_apim_json_t **v,
    ngx_uint_t patch, ngx_str_t *apis, ngx_str_t *metadata,
    int64_t *not_before, int64_t *expires_at, ngx_str_t *detail)
{
    u_char                *p;
    size_t                 len;
    ngx_http_apim_json_t  *a;

    ngx_str_null(apis);
    ngx_str_null(metadata);

    if (v[0] && v[0]->type == NGX_HTTP_APIM_JSON_STRING
        && !(ngx_apim_name_valid((char *) v[0]->str.data, v[0]->str.len)
             && ngx_http_apim_plan_find(ctx->conf->plans, v[0]->str.data,
                                        v[0]->str.len)))
    {
        detail->data = ngx_pnalloc(r->pool, 128);
        if (detail->data == NULL) {
            return NGX_ERROR;
        }

        detail->len = ngx_snprintf(detail->data, 128, "\"plan\": no "
                                   "apim_plan is named \"%*s\"",
                                   ngx_min(v[0]->str.len, 64),
                                   v[0]->str.data)
                      - detail->data;

        return NGX_DECLINED;
    }

    if (v[1] && v[1]->type == NGX_HTTP_APIM_JSON_ARRAY) {
        len = 0;

        for (a = v[1]->child; a; a = a->next) {
            if (a->type != NGX_HTTP_APIM_JSON_STRING
                || !ngx_apim_name_valid((char *) a->str.data, a->str.len))
            {
                ngx_str_set(detail, "\"apis\" must be an array of API "
                                    "names (1 to 64 of A-Z a-z 0-9 . _ -)");
                return NGX_DECLINED;
            }

            len += a->str.len + 1;
        }

        if (len) {
            p = ngx_pnalloc(r->pool, len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            apis->data = p;

            for (a = v[1]->child; a; a = a->next) {
                if (p != apis->data) {
                    *p++ = ',';
                }

                p = ngx_cpymem(p, a->str.data, a->str.len);
            }

            apis->len = p - apis->data;
        }
    }

    if (v[2] && v[2]->type == NGX_HTTP_APIM_JSON_STRING
        && ngx_http_apim_admin_time(&v[2]->str, not_before) != NGX_OK)
    {
        ngx_str_set(detail, "\"not_before\" must be an RFC 3339 time, "
                            "such as \"2026-11-26T12:00:00Z\"");
        return NGX_DECLINED;
    }

    if (v[3] && v[3]->type == NGX_HTTP_APIM_JSON_STRING
        && ngx_http_apim_admin_time(&v[3]->str, expires_at) != NGX_OK)
    {
        ngx_str_set(detail, "\"expires_at\" must be an RFC 3339 time, "
                            "such as \"2026-11-26T12:00:00Z\"");
        return NGX_DECLINED;
    }

    if (!patch && *not_before && *expires_at && *expires_at <= *not_before) {
        ngx_str_set(detail, "\"expires_at\" must be later than "
                            "\"not_before\"");
        return NGX_DECLINED;
    }

    if (v[4] && v[4]->type == NGX_HTTP_APIM_JSON_OBJECT
        && ngx_http_apim_json_text(r->pool, v[4], metadata) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A key's record by its id, in the read transaction, copied into the
 * pool: NGX_OK, NGX_DECLINED (no such key), NGX_ERROR (the store failed),
 * NGX_ABORT (the record is damaged).
 */

ngx_int_t
ngx_http_apim_admin_key_find(ngx_pool_t *pool, ngx_apim_store_t *st,
    ngx_str_t *id, u_char **rec, size_t *len)
{
    int             rc;
    ngx_apim_val_t  val;

    rc = ngx_apim_store_get(st, NGX_APIM_DB_KEY_IDS, id->data, id->len, &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return NGX_DECLINED;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return NGX_ERROR;
    }

    if (val.len != NGX_APIM_HASH_LEN) {
        return NGX_ABORT;
    }

    rc = ngx_apim_store_get(st, NGX_APIM_DB_KEYS, val.data, NGX_APIM_HASH_LEN,
                            &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return NGX_ABORT;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return NGX_ERROR;
    }

    *rec = ngx_pnalloc(pool, val.len);
    if (*rec == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(*rec, val.data, val.len);
    *len = val.len;

    return NGX_OK;
}


ngx_int_t
ngx_http_apim_admin_key_get(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    u_char            *rec;
    size_t             len;
    ngx_int_t          rc;
    ngx_apim_store_t  *st;

    st = ngx_http_apim_store();

    if (st == NULL || ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    rc = ngx_http_apim_admin_key_find(r->pool, st, &ctx->args[0], &rec, &len);

    ngx_apim_store_read_end(st);

    if (rc == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                         "no key \"%V\"", &ctx->args[0]);
    }

    if (rc == NGX_ABORT) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "the record of key \"%V\" is "
                                         "damaged", &ctx->args[0]);
    }

    if (rc != NGX_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    return ngx_http_apim_admin_key_done(r, NGX_HTTP_OK, rec, len, NULL, NULL,
                                        0);
}


ngx_int_t
ngx_http_apim_admin_key_list(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    int                              rc;
    ngx_int_t                        n;
    ngx_str_t                        detail;
    ngx_apim_store_t                *st;
    ngx_http_apim_admin_key_list_t   list;

    ngx_memzero(&list, sizeof(ngx_http_apim_admin_key_list_t));

    n = ngx_http_apim_admin_page_open(r, &list.page, &detail);

    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    if (n != NGX_OK
        || ngx_http_apim_admin_arg(r, "consumer", 8, &list.consumer)
           == NGX_ERROR
        || ngx_http_apim_admin_arg(r, "plan", 4, &list.plan) == NGX_ERROR)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st = ngx_http_apim_store();

    if (st == NULL || ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    list.st = st;

    rc = ngx_apim_store_iterate(st, NGX_APIM_DB_KEY_IDS, list.page.after.data,
                                list.page.after.len,
                                ngx_http_apim_admin_key_item, &list);

    ngx_apim_store_read_end(st);

    if (rc != NGX_APIM_STORE_OK || list.rc == NGX_DECLINED) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    if (list.rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_page_send(&list.page);
}


static int
ngx_http_apim_admin_key_item(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data)
{
    ngx_http_apim_admin_key_list_t  *list = data;

    int                       rc;
    ngx_str_t                 plan;
    ngx_apim_val_t            v;
    ngx_apim_key_rec_t        rec;
    ngx_apim_consumer_rec_t   consumer;

    if (ngx_http_apim_admin_page_cursor(&list->page, key)) {
        return NGX_APIM_STORE_OK;
    }

    if (val->len != NGX_APIM_HASH_LEN) {
        return NGX_APIM_STORE_OK;
    }

    rc = ngx_apim_store_get(list->st, NGX_APIM_DB_KEYS, val->data,
                            NGX_APIM_HASH_LEN, &v);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return NGX_APIM_STORE_OK;
    }

    if (rc != NGX_APIM_STORE_OK) {
        list->rc = NGX_DECLINED;
        return NGX_APIM_STORE_NOT_FOUND;
    }

    if (ngx_apim_key_rec_decode(&rec, v.data, v.len) != 0) {
        ngx_log_error(NGX_LOG_WARN, list->page.r->connection->log, 0,
                      "apim admin: the record of key \"%*s\" is damaged",
                      key->len, key->data);
        return NGX_APIM_STORE_OK;
    }

    if (list->consumer.len
        && ngx_memn2cmp((u_char *) rec.consumer.data, list->consumer.data,
                        rec.consumer.len, list->consumer.len) != 0)
    {
        return NGX_APIM_STORE_OK;
    }

    if (list->plan.len) {

        /* the plan that applies: the key's own, else its consumer's */

        plan.data = (u_char *) rec.plan.data;
        plan.len = rec.plan.len;

        if (plan.len == 0
            && ngx_apim_store_get(list->st, NGX_APIM_DB_CONSUMERS,
                                  rec.consumer.data, rec.consumer.len, &v)
               == NGX_APIM_STORE_OK
            && ngx_apim_consumer_rec_decode(&consumer, v.data, v.len) == 0)
        {
            plan.data = (u_char *) consumer.plan.data;
            plan.len = consumer.plan.len;
        }

        if (ngx_memn2cmp(plan.data, list->plan.data, plan.len,
                         list->plan.len) != 0)
        {
            return NGX_APIM_STORE_OK;
        }
    }

    if (ngx_http_apim_admin_page_full(&list->page)) {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    if (ngx_http_apim_admin_key_json(list->page.r, list->page.g, &rec)
        != NGX_OK
        || ngx_http_apim_admin_page_item(&list->page, key) != NGX_OK)
    {
        list->rc = NGX_ERROR;
        return NGX_APIM_STORE_NOT_FOUND;
    }

    return NGX_APIM_STORE_OK;
}


ngx_int_t
ngx_http_apim_admin_key_patch(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    int                               rc;
    ngx_int_t                         n;
    ngx_str_t                         detail;
    ngx_apim_store_t                 *st;
    ngx_http_apim_json_t             *v[6];
    ngx_http_apim_admin_key_patch_t   op;

    n = ngx_http_apim_admin_fields(r, ctx,
                                   ngx_http_apim_admin_key_patch_fields,
                                   v, &detail);
    if (n == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    ngx_memzero(&op, sizeof(ngx_http_apim_admin_key_patch_t));

    n = ngx_http_apim_admin_key_input(r, ctx, v, 1, &op.apis, &op.metadata,
                                      &op.not_before, &op.expires_at,
                                      &detail);
    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    if (n != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op.id = ctx->args[0];
    op.pool = r->pool;
    op.v = v;

    st = ngx_http_apim_store();

    if (st == NULL) {
        return ngx_http_apim_admin_store_error(r, NULL);
    }

    rc = ngx_apim_store_write(st, ngx_http_apim_admin_key_patch_handler, &op);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                         "no key \"%V\"", &op.id);
    }

    if (rc == NGX_APIM_STORE_EXISTS) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                         "\"expires_at\" must be later than "
                                         "\"not_before\"");
    }

    if (rc != NGX_APIM_STORE_OK || op.rec == NULL) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    ngx_http_apim_admin_log(r, "changed key", &op.id);

    return ngx_http_apim_admin_key_done(r, NGX_HTTP_OK, op.rec, op.rec_len,
                                        NULL, NULL, 0);
}


static int
ngx_http_apim_admin_key_patch_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    ngx_http_apim_admin_key_patch_t  *op = data;

    int                     rc;
    ngx_apim_key_rec_t      rec;
    ngx_http_apim_json_t  **v;
    u_char                  hash[NGX_APIM_HASH_LEN];

    v = op->v;
    op->rec = NULL;

    rc = ngx_apim_ops_key_get(st, txn, (char *) op->id.data, op->id.len,
                              hash, &rec);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (v[0]) {
        rec.plan.data = (char *) v[0]->str.data;
        rec.plan.len = (v[0]->type == NGX_HTTP_APIM_JSON_NULL)
                       ? 0 : v[0]->str.len;
    }

    if (v[1]) {
        rec.apis.data = (char *) op->apis.data;
        rec.apis.len = op->apis.len;
    }

    if (v[2]) {
        rec.not_before = op->not_before;
    }

    if (v[3]) {
        rec.expires_at = op->expires_at;
    }

    if (v[4]) {
        rec.metadata.data = (char *) op->metadata.data;
        rec.metadata.len = op->metadata.len;
    }

    if (v[5]) {
        if (v[5]->num) {
            rec.flags |= NGX_APIM_KEY_DISABLED;

        } else {
            rec.flags &= ~NGX_APIM_KEY_DISABLED;
        }
    }

    if (rec.not_before && rec.expires_at
        && rec.expires_at <= rec.not_before)
    {
        return NGX_APIM_STORE_EXISTS;
    }

    op->rec_len = ngx_apim_key_rec_size(&rec);
    op->rec = ngx_pnalloc(op->pool, op->rec_len);
    if (op->rec == NULL) {
        return NGX_APIM_STORE_ERROR;
    }

    ngx_apim_key_rec_encode(&rec, op->rec);

    return ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEYS, hash,
                                  NGX_APIM_HASH_LEN, op->rec, op->rec_len, 0);
}


ngx_int_t
ngx_http_apim_admin_key_delete(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    return ngx_http_apim_admin_key_write(r, ctx, ngx_apim_ops_key_revoke,
                                         "revoked key");
}


/*
 * A write on the key the path names, by one of ngx_apim_ops.c's
 * functions: 204, 404 when there is no such key, or the store's error
 */

ngx_int_t
ngx_http_apim_admin_key_write(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_http_apim_admin_key_op_pt op,
    const char *action)
{
    int                rc;
    ngx_apim_store_t  *st;

    st = ngx_http_apim_store();

    if (st == NULL) {
        return ngx_http_apim_admin_store_error(r, NULL);
    }

    rc = op(st, (char *) ctx->args[0].data, ctx->args[0].len);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                         "no key \"%V\"", &ctx->args[0]);
    }

    if (rc != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    ngx_http_apim_admin_log(r, action, &ctx->args[0]);

    return ngx_http_apim_admin_no_content(r);
}


/*
 * A new key for an old one, by ngx_apim_ops_key_rotate(), as "apimctl key
 * rotate" does it: the old key's record and usage, the old key expiring
 * "grace" seconds from now (never later than it would have).
 */

ngx_int_t
ngx_http_apim_admin_key_rotate(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    int                         rc;
    ngx_int_t                   n;
    ngx_str_t                   detail, key, new_id;
    ngx_uint_t                  tries;
    ngx_apim_store_t           *st;
    ngx_http_apim_json_t       *v[1];
    ngx_apim_ops_key_rotate_t   op;
    u_char                     *p;
    char                        id[NGX_APIM_ID_LEN + 1];
    char                        gen[NGX_APIM_KEY_LEN + 1];
    u_char                      new_hash[NGX_APIM_HASH_LEN];
    u_char                      when[NGX_HTTP_APIM_TIME_LEN];

    n = ngx_http_apim_admin_fields(r, ctx,
                                   ngx_http_apim_admin_key_rotate_fields,
                                   v, &detail);
    if (n == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    ngx_memzero(&op, sizeof(ngx_apim_ops_key_rotate_t));

    if (v[0]) {
        if (v[0]->num < 0 || v[0]->num > 366 * 86400) {
            return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                             "\"grace\" must be 0 to "
                                             "31622400 seconds");
        }

        op.grace = v[0]->num;
    }

    op.id = (char *) ctx->args[0].data;
    op.id_len = ctx->args[0].len;
    op.new_id = id;
    op.new_id_len = NGX_APIM_ID_LEN;
    op.new_hash = new_hash;

    st = ngx_http_apim_store();

    if (st == NULL) {
        return ngx_http_apim_admin_store_error(r, NULL);
    }

    for (tries = 0; /* void */ ; tries++) {
        if (ngx_apim_key_generate(gen, id) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_apim_hmac(ctx->conf->hmac, (u_char *) gen, NGX_APIM_KEY_LEN,
                      new_hash);

        op.now = ngx_time();

        rc = ngx_apim_ops_key_rotate(st, &op);

        if (!op.id_exists || tries == NGX_HTTP_APIM_ADMIN_TRIES - 1) {
            break;
        }
    }

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        OPENSSL_cleanse(gen, sizeof(gen));
        return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                         "no key \"%V\"", &ctx->args[0]);
    }

    if (op.expired) {
        OPENSSL_cleanse(gen, sizeof(gen));
        p = ngx_http_apim_time_format(when, (time_t) op.old_expires);

        return ngx_http_apim_admin_error(r, NGX_HTTP_CONFLICT,
                                         "key \"%V\" expired at %*s: a new "
                                         "key would take its expiry; give "
                                         "it a later \"expires_at\" first",
                                         &ctx->args[0], (size_t) (p - when),
                                         when);
    }

    if (rc != NGX_APIM_STORE_OK) {
        OPENSSL_cleanse(gen, sizeof(gen));
        return ngx_http_apim_admin_store_error(r, st);
    }

    ngx_http_apim_store_ok();

    new_id.data = (u_char *) id;
    new_id.len = NGX_APIM_ID_LEN;

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "apim admin: %V rotated key \"%V\" to \"%V\", the old one "
                  "expires in %L s", &r->connection->addr_text, &ctx->args[0],
                  &new_id, op.old_expires - ngx_time());

    key.data = (u_char *) gen;
    key.len = NGX_APIM_KEY_LEN;

    rc = ngx_http_apim_admin_key_done(r, NGX_HTTP_CREATED, op.new_rec,
                                      op.new_rec_len, &key, &ctx->args[0],
                                      op.old_expires);

    ngx_free(op.new_rec);
    OPENSSL_cleanse(gen, sizeof(gen));

    return rc;
}


/*
 * A key record of ours as the response; with the key itself only when it
 * was just made, and the key it replaces after a rotation.
 */

static ngx_int_t
ngx_http_apim_admin_key_done(ngx_http_request_t *r, ngx_uint_t status,
    u_char *buf, size_t len, ngx_str_t *key, ngx_str_t *previous,
    int64_t previous_expires)
{
    yajl_gen            g;
    ngx_apim_key_rec_t  rec;

    if (ngx_apim_key_rec_decode(&rec, buf, len) != 0) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "the key's record is damaged");
    }

    g = ngx_http_apim_json_gen(r->pool);

    if (g == NULL || yajl_gen_map_open(g) != yajl_gen_status_ok) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (key && ngx_http_apim_json_str(g, "key", key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_apim_admin_key_fields(r, g, &rec) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (previous
        && (ngx_http_apim_json_key(g, "previous") != NGX_OK
            || yajl_gen_map_open(g) != yajl_gen_status_ok
            || ngx_http_apim_json_str(g, "id", previous) != NGX_OK
            || ngx_http_apim_json_time(g, "expires_at", previous_expires)
               != NGX_OK
            || yajl_gen_map_close(g) != yajl_gen_status_ok))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (yajl_gen_map_close(g) != yajl_gen_status_ok) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_send(r, status, g);
}


ngx_int_t
ngx_http_apim_admin_key_json(ngx_http_request_t *r, yajl_gen g,
    ngx_apim_key_rec_t *rec)
{
    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_admin_key_fields(r, g, rec) != NGX_OK
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the members of a key's JSON, in an open map */

ngx_int_t
ngx_http_apim_admin_key_fields(ngx_http_request_t *r, yajl_gen g,
    ngx_apim_key_rec_t *rec)
{
    char      *p, *last, *comma;
    time_t     now;
    ngx_str_t  status;

    if (ngx_http_apim_json_key(g, "id") != NGX_OK
        || yajl_gen_string(g, (u_char *) rec->id.data, rec->id.len)
           != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "consumer") != NGX_OK
        || yajl_gen_string(g, (u_char *) rec->consumer.data,
                           rec->consumer.len)
           != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "plan") != NGX_OK
        || (rec->plan.len
            ? yajl_gen_string(g, (u_char *) rec->plan.data, rec->plan.len)
            : yajl_gen_null(g))
           != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "apis") != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rec->apis.len == 0) {
        if (yajl_gen_null(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

    } else {
        if (yajl_gen_array_open(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }

        p = (char *) rec->apis.data;
        last = p + rec->apis.len;

        for ( ;; ) {
            comma = (char *) ngx_strlchr((u_char *) p, (u_char *) last, ',');

            if (comma == NULL) {
                comma = last;
            }

            if (yajl_gen_string(g, (u_char *) p, comma - p)
                != yajl_gen_status_ok)
            {
                return NGX_ERROR;
            }

            if (comma == last) {
                break;
            }

            p = comma + 1;
        }

        if (yajl_gen_array_close(g) != yajl_gen_status_ok) {
            return NGX_ERROR;
        }
    }

    now = ngx_time();

    if (rec->flags & NGX_APIM_KEY_DISABLED) {
        ngx_str_set(&status, "disabled");

    } else if (rec->expires_at && now >= rec->expires_at) {
        ngx_str_set(&status, "expired");

    } else if (rec->not_before && now < rec->not_before) {
        ngx_str_set(&status, "not-yet-valid");

    } else {
        ngx_str_set(&status, "active");
    }

    if (ngx_http_apim_json_time(g, "created", rec->created) != NGX_OK
        || ngx_http_apim_json_time(g, "not_before", rec->not_before) != NGX_OK
        || ngx_http_apim_json_time(g, "expires_at", rec->expires_at) != NGX_OK
        || ngx_http_apim_json_key(g, "disabled") != NGX_OK
        || yajl_gen_bool(g, (rec->flags & NGX_APIM_KEY_DISABLED) != 0)
           != yajl_gen_status_ok
        || ngx_http_apim_json_str(g, "status", &status) != NGX_OK
        || ngx_http_apim_json_key(g, "metadata") != NGX_OK
        || ngx_http_apim_json_metadata(g, r->pool, &rec->metadata) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
