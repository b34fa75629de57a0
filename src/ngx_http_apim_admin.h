
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The admin API (apim_admin): its configuration, the state of one admin
 * request, and the functions its files share.  ngx_http_apim_admin.c
 * protects and routes; the other ngx_http_apim_admin_*.c files answer
 * one resource each.
 */


#ifndef _NGX_HTTP_APIM_ADMIN_H_INCLUDED_
#define _NGX_HTTP_APIM_ADMIN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_key.h"
#include "ngx_apim_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_json.h"
#include "ngx_http_apim_plan.h"
#include "ngx_http_apim_catalogue.h"    /* RFC 3339 times, plan windows */


#define NGX_HTTP_APIM_ADMIN_BODY_MAX   (64 * 1024)
#define NGX_HTTP_APIM_ADMIN_ARGS       2       /* "*" segments of a path */
#define NGX_HTTP_APIM_ADMIN_DEPTH      16      /* JSON nesting */
#define NGX_HTTP_APIM_ADMIN_PAGE       100
#define NGX_HTTP_APIM_ADMIN_PAGE_MAX   1000


/* what the directives give one admin location */

typedef struct {
    u_char                        digest[SHA256_DIGEST_LENGTH];
    ngx_str_t                     file;
} ngx_http_apim_admin_token_t;


typedef struct {
    ngx_http_apim_store_conf_t   *store;
    ngx_apim_hmac_t              *hmac;
    ngx_array_t                  *plans;       /* ngx_http_apim_plan_t */
    ngx_shm_zone_t              **zone;        /* set in postconfiguration */
    ngx_http_apim_admin_token_t  *token;       /* NULL: none configured */
    size_t                        body_max;
    ngx_flag_t                    unprotected;
    ngx_http_core_loc_conf_t     *clcf;
    u_char                       *file;        /* where apim_admin is */
    ngx_uint_t                    line;
} ngx_http_apim_admin_conf_t;


/* a request body, parsed */

typedef enum {
    NGX_HTTP_APIM_JSON_NULL = 0,
    NGX_HTTP_APIM_JSON_BOOL,
    NGX_HTTP_APIM_JSON_INT,
    NGX_HTTP_APIM_JSON_NUMBER,              /* not an integer */
    NGX_HTTP_APIM_JSON_STRING,
    NGX_HTTP_APIM_JSON_ARRAY,
    NGX_HTTP_APIM_JSON_OBJECT
} ngx_http_apim_json_type_e;


typedef struct ngx_http_apim_json_s  ngx_http_apim_json_t;

struct ngx_http_apim_json_s {
    ngx_http_apim_json_type_e     type;
    ngx_str_t                     name;        /* in an object */
    ngx_str_t                     str;         /* STRING; NUMBER's text */
    int64_t                       num;         /* INT, BOOL */
    ngx_http_apim_json_t         *child;       /* ARRAY, OBJECT */
    ngx_http_apim_json_t         *last;
    ngx_http_apim_json_t         *next;
    ngx_http_apim_json_t         *parent;
};


typedef struct ngx_http_apim_admin_ctx_s  ngx_http_apim_admin_ctx_t;

typedef ngx_int_t (*ngx_http_apim_admin_pt)(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);

struct ngx_http_apim_admin_ctx_s {
    ngx_http_apim_admin_conf_t   *conf;
    ngx_http_apim_admin_pt        handler;
    ngx_http_handler_pt           plain;       /* a handler of r alone */
    ngx_str_t                     args[NGX_HTTP_APIM_ADMIN_ARGS];
    ngx_http_apim_json_t         *body;        /* NULL: no body */
};


/* a store operation on one key (ngx_apim_ops.c): revoke, usage reset */

typedef int (*ngx_http_apim_admin_key_op_pt)(ngx_apim_store_t *st,
    const char *id, size_t len);


/* one page of a list answer, in ngx_http_apim_admin_page.c */

typedef struct {
    ngx_http_request_t           *r;
    yajl_gen                      g;
    ngx_str_t                     after;       /* the cursor's key */
    ngx_str_t                     last;        /* the last key written */
    ngx_uint_t                    limit;
    ngx_uint_t                    n;
    unsigned                      more:1;
} ngx_http_apim_admin_page_t;


/* a member of a request body: its name and the types it may have */

typedef struct {
    const char                   *name;
    ngx_uint_t                    types;       /* 1 << NGX_HTTP_APIM_JSON_* */
} ngx_http_apim_admin_field_t;

#define NGX_HTTP_APIM_ADMIN_T(t)   (1 << NGX_HTTP_APIM_JSON_ ## t)


/* ngx_http_apim_admin.c */
char *ngx_http_apim_admin_set(ngx_conf_t *cf, ngx_http_apim_admin_conf_t **cp,
    ngx_http_apim_store_conf_t *store, ngx_apim_hmac_t *hmac,
    ngx_array_t *plans, ngx_shm_zone_t **zone);
char *ngx_http_apim_admin_token_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_apim_admin_merge(ngx_conf_t *cf,
    ngx_http_apim_admin_conf_t *acf, ngx_http_apim_admin_token_t *token,
    size_t body_max);
ngx_int_t ngx_http_apim_admin_handler(ngx_http_request_t *r,
    ngx_http_apim_admin_conf_t *acf);

ngx_int_t ngx_http_apim_admin_fields(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_http_apim_admin_field_t *fields,
    ngx_http_apim_json_t **values, ngx_str_t *detail);
ngx_int_t ngx_http_apim_admin_arg(ngx_http_request_t *r, char *name,
    size_t len, ngx_str_t *value);
ngx_int_t ngx_http_apim_admin_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *fmt, ...);
ngx_int_t ngx_http_apim_admin_store_error(ngx_http_request_t *r,
    ngx_apim_store_t *st);
ngx_int_t ngx_http_apim_admin_send(ngx_http_request_t *r, ngx_uint_t status,
    yajl_gen g);
void ngx_http_apim_admin_log(ngx_http_request_t *r, const char *action,
    ngx_str_t *name);
ngx_int_t ngx_http_apim_admin_no_content(ngx_http_request_t *r);

/* ngx_http_apim_admin_page.c */
ngx_int_t ngx_http_apim_admin_page_open(ngx_http_request_t *r,
    ngx_http_apim_admin_page_t *page, ngx_str_t *detail);
ngx_uint_t ngx_http_apim_admin_page_cursor(ngx_http_apim_admin_page_t *page,
    const ngx_apim_val_t *key);
ngx_uint_t ngx_http_apim_admin_page_full(ngx_http_apim_admin_page_t *page);
ngx_int_t ngx_http_apim_admin_page_item(ngx_http_apim_admin_page_t *page,
    const ngx_apim_val_t *key);
ngx_int_t ngx_http_apim_admin_page_send(ngx_http_apim_admin_page_t *page);

/* ngx_http_apim_admin_json.c */
ngx_int_t ngx_http_apim_json_parse(ngx_pool_t *pool, u_char *text,
    size_t len, ngx_http_apim_json_t **root, ngx_str_t *err);
ngx_int_t ngx_http_apim_json_gen_value(yajl_gen g,
    ngx_http_apim_json_t *v);
ngx_int_t ngx_http_apim_json_text(ngx_pool_t *pool, ngx_http_apim_json_t *v,
    ngx_str_t *text);
ngx_int_t ngx_http_apim_json_metadata(yajl_gen g, ngx_pool_t *pool,
    const ngx_apim_str_t *text);
ngx_int_t ngx_http_apim_admin_time(ngx_str_t *s, int64_t *t);
const char *ngx_http_apim_json_type_name(ngx_http_apim_json_type_e type);

/* ngx_http_apim_admin_consumers.c */
ngx_int_t ngx_http_apim_admin_consumer_create(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_consumer_list(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_consumer_get(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_consumer_patch(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_consumer_delete(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);

/* ngx_http_apim_admin_keys.c */
ngx_int_t ngx_http_apim_admin_key_create(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_key_list(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_key_get(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_key_patch(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_key_delete(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_key_rotate(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_key_write(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx, ngx_http_apim_admin_key_op_pt op,
    const char *action);
ngx_int_t ngx_http_apim_admin_key_find(ngx_pool_t *pool,
    ngx_apim_store_t *st, ngx_str_t *id, u_char **rec, size_t *len);
ngx_int_t ngx_http_apim_admin_key_json(ngx_http_request_t *r, yajl_gen g,
    ngx_apim_key_rec_t *rec);
ngx_int_t ngx_http_apim_admin_key_fields(ngx_http_request_t *r, yajl_gen g,
    ngx_apim_key_rec_t *rec);

/* ngx_http_apim_admin_usage.c */
ngx_int_t ngx_http_apim_admin_usage_get(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_usage_reset(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);

/* ngx_http_apim_admin_plans.c */
ngx_int_t ngx_http_apim_admin_plan_list(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_plan_get(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);
ngx_int_t ngx_http_apim_admin_status(ngx_http_request_t *r,
    ngx_http_apim_admin_ctx_t *ctx);



#endif /* _NGX_HTTP_APIM_ADMIN_H_INCLUDED_ */
