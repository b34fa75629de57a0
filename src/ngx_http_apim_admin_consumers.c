
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The admin API's consumers: create, list (paged by name), show, change
 * the plan or metadata, and delete, which revokes every key of the
 * consumer in the same write transaction, as "apimctl consumer delete"
 * does.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_ops.h"
#include "ngx_http_apim_admin.h"
#include "ngx_http_apim_plan.h"


typedef struct {
    ngx_str_t                  name;
    ngx_http_apim_json_t      *plan;        /* NULL: unchanged */
    ngx_http_apim_json_t      *metadata;    /* NULL: unchanged */
    ngx_str_t                  metadata_text;
    ngx_pool_t                *pool;
    u_char                    *rec;         /* the record written */
    size_t                     rec_len;
} ngx_http_apim_admin_consumer_op_t;


typedef struct {
    ngx_http_apim_admin_page_t   page;
    ngx_int_t                    rc;
} ngx_http_apim_admin_consumer_list_t;


static ngx_int_t ngx_http_apim_admin_consumer_json(ngx_http_request_t *r,
    yajl_gen g, ngx_apim_consumer_rec_t *rec);
static ngx_int_t ngx_http_apim_admin_plan_check(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_http_apim_json_t *plan,
    ngx_str_t *detail);
static int ngx_http_apim_admin_consumer_item(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static int ngx_http_apim_admin_consumer_patch_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data);
static ngx_int_t ngx_http_apim_admin_consumer_done(ngx_http_request_t *r,
    ngx_uint_t status, u_char *rec, size_t len);


/* the members of a POST and of a PATCH body */

static ngx_http_apim_admin_field_t  ngx_http_apim_admin_consumer_new[] = {
    { "name", NGX_HTTP_APIM_ADMIN_T(STRING) },
    { "plan", NGX_HTTP_APIM_ADMIN_T(STRING) },
    { "metadata", NGX_HTTP_APIM_ADMIN_T(OBJECT) },
    { NULL, 0 }
};


static ngx_http_apim_admin_field_t  ngx_http_apim_admin_consumer_change[] = {
    { "plan", NGX_HTTP_APIM_ADMIN_T(STRING) | NGX_HTTP_APIM_ADMIN_T(NULL) },
    { "metadata", NGX_HTTP_APIM_ADMIN_T(OBJECT) | NGX_HTTP_APIM_ADMIN_T(NULL) },
    { NULL, 0 }
};


ngx_int_t
ngx_http_apim_admin_consumer_create(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    int                       rc;
    u_char                   *buf;
    size_t                    size;
    ngx_int_t                 n;
    ngx_str_t                 detail, meta;
    ngx_apim_store_t         *st;
    ngx_http_apim_json_t     *v[3];
    ngx_apim_consumer_rec_t   rec;
    char                      id[NGX_APIM_ID_LEN + 1];

    n = ngx_http_apim_admin_fields(r, ctx,
                                   ngx_http_apim_admin_consumer_new,
                                   v, &detail);
    if (n == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    if (v[0] == NULL) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                         "\"name\" is required");
    }

    if (!ngx_apim_name_valid((char *) v[0]->str.data, v[0]->str.len)) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                         "\"name\" must be 1 to 64 of "
                                         "A-Z a-z 0-9 . _ -");
    }

    n = ngx_http_apim_admin_plan_check(r, ctx, v[1], &detail);

    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    if (n != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_null(&meta);

    if (v[2] && ngx_http_apim_json_text(r->pool, v[2], &meta) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_apim_id_generate("c_", id) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&rec, sizeof(ngx_apim_consumer_rec_t));

    rec.name.data = (char *) v[0]->str.data;
    rec.name.len = v[0]->str.len;
    rec.id.data = id;
    rec.id.len = ngx_strlen(id);

    if (v[1]) {
        rec.plan.data = (char *) v[1]->str.data;
        rec.plan.len = v[1]->str.len;
    }

    rec.metadata.data = (char *) meta.data;
    rec.metadata.len = meta.len;
    rec.created = ngx_time();

    size = ngx_apim_consumer_rec_size(&rec);

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_apim_consumer_rec_encode(&rec, buf);

    st = ngx_http_apim_store();

    if (st == NULL) {
        return ngx_http_apim_admin_store_error(r, NULL);
    }

    rc = ngx_apim_store_insert(st, NGX_APIM_DB_CONSUMERS, rec.name.data,
                               rec.name.len, buf, size);

    if (rc == NGX_APIM_STORE_EXISTS) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_CONFLICT,
                                         "consumer \"%V\" exists",
                                         &v[0]->str);
    }

    if (rc != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    ngx_http_apim_admin_log(r, "created consumer", &v[0]->str);

    return ngx_http_apim_admin_consumer_done(r, NGX_HTTP_CREATED, buf, size);
}


/* a plan must be one that nginx.conf defines */

static ngx_int_t
ngx_http_apim_admin_plan_check(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_http_apim_json_t *plan,
    ngx_str_t *detail)
{
    if (plan == NULL || plan->type != NGX_HTTP_APIM_JSON_STRING) {
        return NGX_OK;
    }

    if (ngx_apim_name_valid((char *) plan->str.data, plan->str.len)
        && ngx_http_apim_plan_find(ctx->conf->plans, plan->str.data,
                                   plan->str.len))
    {
        return NGX_OK;
    }

    detail->len = ngx_min(plan->str.len, 64) + 64;
    detail->data = ngx_pnalloc(r->pool, detail->len);
    if (detail->data == NULL) {
        return NGX_ERROR;
    }

    detail->len = ngx_snprintf(detail->data, detail->len, "\"plan\": no "
                               "apim_plan is named \"%*s\"",
                               ngx_min(plan->str.len, 64), plan->str.data)
                  - detail->data;

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_apim_admin_consumer_list(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    int                                   rc;
    ngx_int_t                             n;
    ngx_str_t                             detail;
    ngx_apim_store_t                     *st;
    ngx_http_apim_admin_consumer_list_t   list;

    list.rc = NGX_OK;

    n = ngx_http_apim_admin_page_open(r, &list.page, &detail);

    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    if (n != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st = ngx_http_apim_store();

    if (st == NULL || ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    rc = ngx_apim_store_iterate(st, NGX_APIM_DB_CONSUMERS,
                                list.page.after.data, list.page.after.len,
                                ngx_http_apim_admin_consumer_item, &list);

    ngx_apim_store_read_end(st);

    if (rc != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    if (list.rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_page_send(&list.page);
}


static int
ngx_http_apim_admin_consumer_item(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data)
{
    ngx_http_apim_admin_consumer_list_t  *list = data;

    ngx_apim_consumer_rec_t  rec;

    if (ngx_http_apim_admin_page_cursor(&list->page, key)) {
        return NGX_APIM_STORE_OK;
    }

    if (ngx_http_apim_admin_page_full(&list->page)) {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    if (ngx_apim_consumer_rec_decode(&rec, val->data, val->len) != 0) {
        ngx_log_error(NGX_LOG_WARN, list->page.r->connection->log, 0,
                      "apim admin: the record of consumer \"%*s\" is "
                      "damaged", key->len, key->data);
        return NGX_APIM_STORE_OK;
    }

    if (ngx_http_apim_admin_consumer_json(list->page.r, list->page.g, &rec)
        != NGX_OK
        || ngx_http_apim_admin_page_item(&list->page, key) != NGX_OK)
    {
        list->rc = NGX_ERROR;
        return NGX_APIM_STORE_NOT_FOUND;
    }

    return NGX_APIM_STORE_OK;
}


ngx_int_t
ngx_http_apim_admin_consumer_get(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    int                       rc;
    u_char                   *copy;
    ngx_str_t                *name;
    ngx_apim_val_t            val;
    ngx_apim_store_t         *st;

    name = &ctx->args[0];

    st = ngx_http_apim_store();

    if (st == NULL || ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    rc = ngx_apim_store_get(st, NGX_APIM_DB_CONSUMERS, name->data, name->len,
                            &val);

    copy = NULL;

    if (rc == NGX_APIM_STORE_OK) {
        copy = ngx_pnalloc(r->pool, val.len);
        if (copy != NULL) {
            ngx_memcpy(copy, val.data, val.len);
        }
    }

    ngx_apim_store_read_end(st);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                         "no consumer \"%V\"", name);
    }

    if (rc != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    if (copy == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_consumer_done(r, NGX_HTTP_OK, copy, val.len);
}


ngx_int_t
ngx_http_apim_admin_consumer_patch(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    int                                 rc;
    ngx_int_t                           n;
    ngx_str_t                           detail;
    ngx_apim_store_t                   *st;
    ngx_http_apim_json_t               *v[2];
    ngx_http_apim_admin_consumer_op_t   op;

    n = ngx_http_apim_admin_fields(r, ctx,
                                   ngx_http_apim_admin_consumer_change,
                                   v, &detail);
    if (n == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    n = ngx_http_apim_admin_plan_check(r, ctx, v[0], &detail);

    if (n == NGX_DECLINED) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_BAD_REQUEST, "%V",
                                         &detail);
    }

    if (n != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&op, sizeof(ngx_http_apim_admin_consumer_op_t));

    op.name = ctx->args[0];
    op.plan = v[0];
    op.metadata = v[1];
    op.pool = r->pool;

    if (v[1] && v[1]->type == NGX_HTTP_APIM_JSON_OBJECT
        && ngx_http_apim_json_text(r->pool, v[1], &op.metadata_text)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st = ngx_http_apim_store();

    if (st == NULL) {
        return ngx_http_apim_admin_store_error(r, NULL);
    }

    rc = ngx_apim_store_write(st, ngx_http_apim_admin_consumer_patch_handler,
                              &op);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                         "no consumer \"%V\"", &op.name);
    }

    if (rc != NGX_APIM_STORE_OK || op.rec == NULL) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    ngx_http_apim_admin_log(r, "changed consumer", &op.name);

    return ngx_http_apim_admin_consumer_done(r, NGX_HTTP_OK, op.rec,
                                             op.rec_len);
}


static int
ngx_http_apim_admin_consumer_patch_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data)
{
    ngx_http_apim_admin_consumer_op_t  *op = data;

    int                       rc;
    ngx_apim_val_t            val;
    ngx_apim_consumer_rec_t   rec;

    op->rec = NULL;

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_CONSUMERS, op->name.data,
                                op->name.len, &val);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (ngx_apim_consumer_rec_decode(&rec, val.data, val.len) != 0) {
        return ngx_apim_store_fail(st, MDB_CORRUPTED, "the record of "
                                   "consumer \"%.*s\" is damaged",
                                   (int) op->name.len, op->name.data);
    }

    if (op->plan) {
        rec.plan.data = (char *) op->plan->str.data;
        rec.plan.len = op->plan->str.len;
    }

    if (op->metadata) {
        rec.metadata.data = (char *) op->metadata_text.data;
        rec.metadata.len = op->metadata_text.len;
    }

    op->rec_len = ngx_apim_consumer_rec_size(&rec);
    op->rec = ngx_pnalloc(op->pool, op->rec_len);
    if (op->rec == NULL) {
        return NGX_APIM_STORE_ERROR;
    }

    ngx_apim_consumer_rec_encode(&rec, op->rec);

    return ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_CONSUMERS,
                                  op->name.data, op->name.len, op->rec,
                                  op->rec_len, 0);
}


ngx_int_t
ngx_http_apim_admin_consumer_delete(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx)
{
    int                rc;
    size_t             revoked;
    ngx_str_t         *name;
    ngx_apim_store_t  *st;

    name = &ctx->args[0];

    st = ngx_http_apim_store();

    if (st == NULL) {
        return ngx_http_apim_admin_store_error(r, NULL);
    }

    /* with every key of it, in one transaction */

    rc = ngx_apim_ops_consumer_delete(st, (char *) name->data, name->len,
                                      &revoked);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_NOT_FOUND,
                                         "no consumer \"%V\"", name);
    }

    if (rc != NGX_APIM_STORE_OK) {
        return ngx_http_apim_admin_store_error(r, st);
    }

    ngx_http_apim_store_ok();

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "apim admin: %V deleted consumer \"%V\" and revoked its "
                  "%uz keys", &r->connection->addr_text, name, revoked);

    return ngx_http_apim_admin_no_content(r);
}


/* a consumer record of ours (copied or written) as the response */

static ngx_int_t
ngx_http_apim_admin_consumer_done(ngx_http_request_t *r, ngx_uint_t status,
    u_char *buf, size_t len)
{
    yajl_gen                 g;
    ngx_apim_consumer_rec_t  rec;

    if (ngx_apim_consumer_rec_decode(&rec, buf, len) != 0) {
        return ngx_http_apim_admin_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "the consumer's record is "
                                         "damaged");
    }

    g = ngx_http_apim_json_gen(r->pool);

    if (g == NULL || ngx_http_apim_admin_consumer_json(r, g, &rec) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_send(r, status, g);
}


static ngx_int_t
ngx_http_apim_admin_consumer_json(ngx_http_request_t *r, yajl_gen g,
    ngx_apim_consumer_rec_t *rec)
{
    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "name") != NGX_OK
        || yajl_gen_string(g, (u_char *) rec->name.data, rec->name.len)
           != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "id") != NGX_OK
        || yajl_gen_string(g, (u_char *) rec->id.data, rec->id.len)
           != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "plan") != NGX_OK)
    {
        return NGX_ERROR;
    }

    if ((rec->plan.len
         ? yajl_gen_string(g, (u_char *) rec->plan.data, rec->plan.len)
         : yajl_gen_null(g))
        != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    if (ngx_http_apim_json_time(g, "created", rec->created) != NGX_OK
        || ngx_http_apim_json_key(g, "metadata") != NGX_OK
        || ngx_http_apim_json_metadata(g, r->pool, &rec->metadata) != NGX_OK
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
