
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * ngx_http_apim_module: consumer-facing API management.  This file holds
 * the directives, the configuration, the access-phase check of API keys
 * and the variables; the work is done by the code in src/.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/crypto.h>

#include "ngx_apim_key.h"
#include "ngx_apim_record.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_status.h"
#include "ngx_http_apim_limit.h"
#include "ngx_http_apim_plan.h"
#include "ngx_http_apim_credential.h"
#include "ngx_http_apim_upstream.h"
#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_apim_lookup.h"
#include "ngx_http_apim_catalogue.h"
#include "ngx_http_apim_usage.h"
#include "ngx_http_apim_portal.h"
#include "ngx_http_apim_analytics.h"
#include "ngx_http_apim_metrics.h"
#include "ngx_http_apim_admin.h"


#define NGX_HTTP_APIM_FAIL_CLOSED     0
#define NGX_HTTP_APIM_FAIL_OPEN       1

/* a location that answers by itself, reading the key it is sent */
#define NGX_HTTP_APIM_ENDPOINT_CATALOGUE  1
#define NGX_HTTP_APIM_ENDPOINT_USAGE      2
#define NGX_HTTP_APIM_ENDPOINT_PORTAL     3

#define NGX_HTTP_APIM_ZONE_SIZE       (16 * 1024 * 1024)
#define NGX_HTTP_APIM_FLUSH           1000


typedef struct {
    ngx_http_apim_store_conf_t    store;
    ngx_flag_t                    enabled;     /* apim_store is set */
    size_t                        zone_size;
    ngx_msec_t                    flush;
    ngx_shm_zone_t               *zone;
    ngx_array_t                   plans;       /* ngx_http_apim_plan_t */
    ngx_str_t                     secret_file;
    ngx_apim_hmac_t               hmac;
    ngx_uint_t                    requires_handler;
    ngx_http_apim_catalogue_t     catalogue;
    ngx_http_apim_analytics_conf_t  analytics;
} ngx_http_apim_main_conf_t;


typedef struct {
    ngx_flag_t                    key;         /* apim_key on/off */
    ngx_array_t                  *sources;     /* ngx_http_apim_source_t */
    ngx_flag_t                    hide;
    ngx_str_t                     api;
    ngx_http_apim_api_t          *api_conf;
    ngx_uint_t                    endpoint;    /* NGX_HTTP_APIM_ENDPOINT_* */
    ngx_http_apim_portal_t       *portal;
    ngx_uint_t                    headers;
    ngx_uint_t                    fail;
    ngx_flag_t                    upstream_headers;
    ngx_flag_t                    metrics_consumer;
    ngx_http_apim_admin_conf_t   *admin;       /* apim_admin; NULL: none */
    ngx_http_apim_admin_token_t  *admin_token;
    size_t                        admin_body_max;
} ngx_http_apim_loc_conf_t;


typedef struct {
    ngx_uint_t                    status;      /* NGX_HTTP_APIM_* */
    ngx_str_t                     key_id;
    ngx_str_t                     consumer;
    ngx_str_t                     consumer_id;
    ngx_str_t                     plan;
    ngx_http_apim_plan_t         *plan_conf;
    int64_t                       quota_remaining;  /* -1: no quota */
    uint32_t                      usage_gen;   /* the key record's */
    unsigned                      granted:1;   /* the key may call the API */
    unsigned                      counted:1;
} ngx_http_apim_ctx_t;


static ngx_int_t ngx_http_apim_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_check(ngx_http_request_t *r,
    ngx_http_apim_ctx_t *ctx, ngx_http_apim_main_conf_t *amcf,
    ngx_http_apim_loc_conf_t *alcf, ngx_str_t *key);
static ngx_int_t ngx_http_apim_count_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_reject(ngx_http_request_t *r,
    ngx_http_apim_ctx_t *ctx, ngx_http_apim_loc_conf_t *alcf, char *detail);
static ngx_int_t ngx_http_apim_reject_limit(ngx_http_request_t *r,
    ngx_http_apim_ctx_t *ctx, ngx_http_apim_plan_t *plan,
    ngx_http_apim_limit_result_t *res);
static ngx_int_t ngx_http_apim_finalize(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_http_apim_ctx_t *ngx_http_apim_get_ctx(ngx_http_request_t *r);
static ngx_http_apim_ctx_t *ngx_http_apim_create_ctx(ngx_http_request_t *r);
static void ngx_http_apim_ctx_marker(void *data);

static ngx_int_t ngx_http_apim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_apim_api_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_apim_quota_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_apim_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_apim_time_ms_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static char *ngx_http_apim_store_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_apim_status_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_apim_plan_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_apim_key_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_apim_api_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_apim_catalogue_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_apim_usage_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_apim_portal_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_apim_status_handler(ngx_http_request_t *r);
static char *ngx_http_apim_admin_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_apim_admin_content(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_lifecycle_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_catalogue_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_usage_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_portal_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_endpoint_key(ngx_http_request_t *r,
    ngx_http_apim_lookup_t *lk, ngx_int_t *rc);
static ngx_int_t ngx_http_apim_init_catalogue(ngx_conf_t *cf,
    ngx_http_apim_main_conf_t *amcf);
static char *ngx_http_apim_analytics_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_apim_analytics_api_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_apim_metrics_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_apim_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_apim_load_secret(ngx_conf_t *cf,
    ngx_http_apim_main_conf_t *amcf);

static ngx_int_t ngx_http_apim_add_variables(ngx_conf_t *cf);
static void *ngx_http_apim_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_apim_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_apim_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_apim_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_apim_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_apim_init_process(ngx_cycle_t *cycle);
static void ngx_http_apim_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_apim_headers_modes[] = {
    { ngx_string("ietf"), NGX_HTTP_APIM_HEADERS_IETF },
    { ngx_string("legacy"), NGX_HTTP_APIM_HEADERS_LEGACY },
    { ngx_string("off"), NGX_HTTP_APIM_HEADERS_OFF },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_apim_fail_modes[] = {
    { ngx_string("closed"), NGX_HTTP_APIM_FAIL_CLOSED },
    { ngx_string("open"), NGX_HTTP_APIM_FAIL_OPEN },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_apim_commands[] = {

    { ngx_string("apim_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_apim_store_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_apim_status_directive,
      0,
      0,
      NULL },

    { ngx_string("apim_plan"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_apim_plan_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_apim_main_conf_t, secret_file),
      NULL },

    { ngx_string("apim_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_apim_key_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_api"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_apim_api_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_catalogue"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_apim_catalogue_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_usage"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_apim_usage_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_portal"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_apim_portal_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apim_loc_conf_t, headers),
      &ngx_http_apim_headers_modes },

    { ngx_string("apim_fail"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apim_loc_conf_t, fail),
      &ngx_http_apim_fail_modes },

    { ngx_string("apim_upstream_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apim_loc_conf_t, upstream_headers),
      NULL },

    { ngx_string("apim_analytics"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_ANY,
      ngx_http_apim_analytics_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_analytics_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_apim_analytics_api_directive,
      0,
      0,
      NULL },

    { ngx_string("apim_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_apim_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_apim_admin_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_admin_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_apim_admin_token_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apim_loc_conf_t, admin_token),
      NULL },

    { ngx_string("apim_admin_body_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_apim_loc_conf_t, admin_body_max),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_apim_module_ctx = {
    ngx_http_apim_add_variables,           /* preconfiguration */
    ngx_http_apim_init,                    /* postconfiguration */

    ngx_http_apim_create_main_conf,        /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_apim_create_loc_conf,         /* create location configuration */
    ngx_http_apim_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_apim_module = {
    NGX_MODULE_V1,
    &ngx_http_apim_module_ctx,             /* module context */
    ngx_http_apim_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_apim_init_module,             /* init module */
    ngx_http_apim_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_apim_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_apim_vars[] = {

    { ngx_string("apim_key_id"), NULL, ngx_http_apim_variable,
      offsetof(ngx_http_apim_ctx_t, key_id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apim_consumer"), NULL, ngx_http_apim_variable,
      offsetof(ngx_http_apim_ctx_t, consumer), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apim_plan"), NULL, ngx_http_apim_variable,
      offsetof(ngx_http_apim_ctx_t, plan), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apim_api"), NULL, ngx_http_apim_api_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apim_quota_remaining"), NULL, ngx_http_apim_quota_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apim_status"), NULL, ngx_http_apim_status_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("apim_request_time_ms"), NULL,
      ngx_http_apim_time_ms_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_apim_status_names[] = {
    ngx_string("PASSED"),
    ngx_string("NO_KEY"),
    ngx_string("BAD_KEY"),
    ngx_string("EXPIRED"),
    ngx_string("FORBIDDEN"),
    ngx_string("RATE_LIMITED"),
    ngx_string("QUOTA_EXCEEDED"),
    ngx_string("STORE_ERROR")
};


static ngx_int_t
ngx_http_apim_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   key;
    ngx_http_apim_ctx_t        *ctx;
    ngx_http_apim_loc_conf_t   *alcf;
    ngx_http_apim_main_conf_t  *amcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apim_module);

    if (!alcf->key) {
        return NGX_DECLINED;
    }

    /* checked once a request: internal redirects must not count twice */

    if (ngx_http_apim_get_ctx(r)) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_apim_create_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apim_module);

    rc = ngx_http_apim_credential_find(r, alcf->sources, alcf->hide, &key);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ctx->status = NGX_HTTP_APIM_NO_KEY;
        return ngx_http_apim_reject(r, ctx, alcf,
                                    "This API needs an API key.");
    }

    if (rc == NGX_BUSY) {
        ctx->status = NGX_HTTP_APIM_BAD_KEY;
        return ngx_http_apim_reject(r, ctx, alcf,
                                    "The request carries two different "
                                    "API keys.");
    }

    return ngx_http_apim_check(r, ctx, amcf, alcf, &key);
}


static ngx_int_t
ngx_http_apim_check(ngx_http_request_t *r, ngx_http_apim_ctx_t *ctx,
    ngx_http_apim_main_conf_t *amcf, ngx_http_apim_loc_conf_t *alcf,
    ngx_str_t *key)
{
    ngx_int_t                rc;
    ngx_http_apim_lookup_t   lk;

    rc = ngx_http_apim_lookup(r, &amcf->hmac, &amcf->plans, key, &lk);

    if (rc == NGX_ERROR) {
        goto store_error;
    }

    ctx->key_id = lk.key_id;
    ctx->consumer = lk.consumer;
    ctx->consumer_id = lk.consumer_id;

    if (rc == NGX_DECLINED) {
        ctx->status = lk.status;
        return ngx_http_apim_reject(r, ctx, alcf, lk.detail);
    }

    ctx->plan = lk.plan->name;

    if (!ngx_http_apim_lookup_may_call(&lk, &alcf->api)) {
        ctx->status = NGX_HTTP_APIM_FORBIDDEN;
        return ngx_http_apim_reject(r, ctx, alcf,
                                    "The API key may not call this API.");
    }

    /*
     * The key is good for this API.  Its limits are counted in the
     * precontent phase, once every access check has let the request
     * through: a request refused by "deny" or "auth_basic" after this
     * check consumes no quota.
     */

    ctx->plan_conf = lk.plan;
    ctx->usage_gen = lk.usage_gen;
    ctx->granted = 1;

    return NGX_OK;

store_error:

    ctx->status = NGX_HTTP_APIM_STORE_ERROR;

    if (alcf->fail == NGX_HTTP_APIM_FAIL_OPEN) {
        /* the precontent phase drops client-sent consumer headers */
        return NGX_OK;
    }

    return ngx_http_apim_finalize(r, ngx_http_apim_problem_store(r));
}


/*
 * The precontent phase: the request has passed every access check; its
 * plan's rate limit and quota are counted, the RateLimit headers set, and
 * the upstream told who the consumer is.
 */

static ngx_int_t
ngx_http_apim_count_handler(ngx_http_request_t *r)
{
    u_char                         qname[2 + NGX_APIM_KEY_MAX];
    ngx_str_t                      name;
    ngx_apim_store_t              *st;
    ngx_http_apim_ctx_t           *ctx;
    ngx_http_apim_plan_t          *plan;
    ngx_http_apim_upstream_t       up;
    ngx_http_apim_loc_conf_t      *alcf;
    ngx_http_apim_main_conf_t     *amcf;
    ngx_http_apim_limit_result_t   res;

    ctx = ngx_http_apim_get_ctx(r);

    if (ctx == NULL || ctx->counted) {
        return NGX_DECLINED;
    }

    ctx->counted = 1;

    if (!ctx->granted) {

        /*
         * let in by another access check ("satisfy any") or by
         * "apim_fail open": no consumer, and no client may claim one
         */

        return ngx_http_apim_upstream_headers(r, NULL) == NGX_OK
               ? NGX_DECLINED : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apim_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apim_module);

    plan = ctx->plan_conf;
    res.rejected = NGX_HTTP_APIM_LIMIT_PASSED;

    if (plan->limit.interval || plan->limit.quota) {
        name.data = qname;
        name.len = ngx_cpymem(ngx_cpymem(qname, NGX_APIM_USAGE_PREFIX,
                                         sizeof(NGX_APIM_USAGE_PREFIX) - 1),
                              ctx->key_id.data, ctx->key_id.len)
                   - qname;

        st = ngx_http_apim_store();

        if (st == NULL
            || ngx_http_apim_limit_check(amcf->zone, &name, ctx->usage_gen,
                                         &plan->limit, st, &res)
               != NGX_OK)
        {
            /* logged once by the store or the limiter */

            ctx->status = NGX_HTTP_APIM_STORE_ERROR;

            if (alcf->fail == NGX_HTTP_APIM_FAIL_CLOSED) {
                return ngx_http_apim_finalize(r,
                                              ngx_http_apim_problem_store(r));
            }

            res.rejected = NGX_HTTP_APIM_LIMIT_PASSED;
            plan = NULL;
        }
    }

    if (plan) {
        ctx->quota_remaining = plan->limit.quota ? res.quota_remaining : -1;

        if (ngx_http_apim_headers_set(r, alcf->headers, plan, &res)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (res.rejected != NGX_HTTP_APIM_LIMIT_PASSED) {
            return ngx_http_apim_reject_limit(r, ctx, plan, &res);
        }
    }

    up.consumer_id = ctx->consumer_id;
    up.consumer_name = ctx->consumer;
    up.credential_id = ctx->key_id;

    if (ngx_http_apim_upstream_headers(r, alcf->upstream_headers ? &up : NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* on to the other precontent handlers (try_files, mirror) */

    return NGX_DECLINED;
}


/*
 * 401 for the key, 403 for the API, with a problem body.  Under "satisfy
 * any" the status goes back to the access phase, as auth_basic's does, so
 * that another access check may still let the request in; nginx's own
 * error page (or error_page) then answers.
 */

static ngx_int_t
ngx_http_apim_reject(ngx_http_request_t *r, ngx_http_apim_ctx_t *ctx,
    ngx_http_apim_loc_conf_t *alcf, char *detail)
{
    u_char                    *p;
    ngx_str_t                  realm;
    ngx_uint_t                 any;
    ngx_http_apim_problem_t    pr;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    any = (clcf->satisfy == NGX_HTTP_SATISFY_ANY);

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    pr.detail.data = (u_char *) detail;
    pr.detail.len = ngx_strlen(detail);

    if (ctx->status == NGX_HTTP_APIM_FORBIDDEN) {
        if (any) {
            return NGX_HTTP_FORBIDDEN;
        }

        pr.status = NGX_HTTP_FORBIDDEN;
        ngx_str_set(&pr.title, "Forbidden");

        return ngx_http_apim_finalize(r, ngx_http_apim_problem_send(r, &pr));
    }

    pr.status = NGX_HTTP_UNAUTHORIZED;
    ngx_str_set(&pr.title, "Unauthorized");

    if (alcf->api.len) {
        realm = alcf->api;

    } else {
        ngx_str_set(&realm, "api");
    }

    p = ngx_pnalloc(r->pool, sizeof("ApiKey realm=\"\"") + realm.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    realm.len = ngx_sprintf(p, "ApiKey realm=\"%V\"", &realm) - p;
    realm.data = p;

    /* nginx drops it if another check of "satisfy any" lets the request in */

    r->headers_out.www_authenticate = ngx_http_apim_header_out(r,
                                                    "WWW-Authenticate",
                                                    realm.data, realm.len);
    if (r->headers_out.www_authenticate == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (any) {
        return NGX_HTTP_UNAUTHORIZED;
    }

    return ngx_http_apim_finalize(r, ngx_http_apim_problem_send(r, &pr));
}


/* 429 with Retry-After and the violated policy */

static ngx_int_t
ngx_http_apim_reject_limit(ngx_http_request_t *r, ngx_http_apim_ctx_t *ctx,
    ngx_http_apim_plan_t *plan, ngx_http_apim_limit_result_t *res)
{
    u_char     *p;
    char       *policy;
    ngx_str_t   detail;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 256);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    detail.data = p;

    if (res->rejected == NGX_HTTP_APIM_LIMIT_RATE) {
        ctx->status = NGX_HTTP_APIM_RATE_LIMITED;
        policy = "rate";
        p = ngx_sprintf(p, "The rate limit of plan \"%V\" is exceeded; "
                        "retry in %L s.", &plan->name, res->retry_after);

    } else {
        ctx->status = NGX_HTTP_APIM_QUOTA_EXCEEDED;
        policy = "quota";
        p = ngx_sprintf(p, "The quota of plan \"%V\" is used up; "
                        "it is restored in %L s.", &plan->name,
                        res->retry_after);
    }

    detail.len = p - detail.data;

    return ngx_http_apim_finalize(r, ngx_http_apim_problem_limit(r, policy,
                                                     &detail,
                                                     res->retry_after));
}


/* the response is sent: end the request here, out of the access phase */

static ngx_int_t
ngx_http_apim_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * The context survives internal redirects (which clear module contexts)
 * through a marker in the request pool's cleanups, so that a request is
 * counted once, and its variables keep their values in the log.
 */

static ngx_http_apim_ctx_t *
ngx_http_apim_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_http_apim_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_apim_module);

    if (ctx || !r->internal) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_apim_ctx_marker) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_apim_module);
            return ctx;
        }
    }

    return NULL;
}


static ngx_http_apim_ctx_t *
ngx_http_apim_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_http_apim_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_apim_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     ctx->status = NGX_HTTP_APIM_PASSED;
     *     ctx->key_id = { 0, NULL };
     *     ctx->consumer = { 0, NULL };
     *     ctx->consumer_id = { 0, NULL };
     *     ctx->plan = { 0, NULL };
     */

    ctx->quota_remaining = -1;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_apim_ctx_marker;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_apim_module);

    return ctx;
}


static void
ngx_http_apim_ctx_marker(void *data)
{
    /* nothing to free: the context lives in the request pool */
}


static ngx_int_t
ngx_http_apim_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t            *s;
    ngx_http_apim_ctx_t  *ctx;

    ctx = ngx_http_apim_get_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_api_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_apim_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apim_module);

    if (alcf->api.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = alcf->api.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = alcf->api.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_quota_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char               *p;
    ngx_http_apim_ctx_t  *ctx;

    ctx = ngx_http_apim_get_ctx(r);

    if (ctx == NULL || ctx->quota_remaining < 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%L", ctx->quota_remaining) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_apim_ctx_t  *ctx;

    ctx = ngx_http_apim_get_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_http_apim_status_names[ctx->status].len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ngx_http_apim_status_names[ctx->status].data;

    return NGX_OK;
}


/* $request_time in whole milliseconds, as Tyk's RequestTime has it */

static ngx_int_t
ngx_http_apim_time_ms_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char          *p;
    ngx_time_t      *tp;
    ngx_msec_int_t   ms;

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    v->len = ngx_sprintf(p, "%M", ms) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/* apim_store <dir> [size=<size>] [zone=<size>] [flush=<time>] */

static char *
ngx_http_apim_store_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apim_main_conf_t  *amcf = conf;

    ssize_t      size;
    ngx_str_t   *value, s;
    ngx_int_t    flush;
    ngx_uint_t   i;

    if (amcf->enabled) {
        return "is duplicate";
    }

    value = cf->args->elts;

    amcf->store.path = value[1];

    if (amcf->store.path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apim_store needs a directory, not \"\"");
        return NGX_CONF_ERROR;
    }

    /* relative to the prefix; null-terminated for open() */

    if (ngx_conf_full_name(cf->cycle, &amcf->store.path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    while (amcf->store.path.len > 1
           && amcf->store.path.data[amcf->store.path.len - 1] == '/')
    {
        amcf->store.path.len--;
    }

    amcf->store.path.data[amcf->store.path.len] = '\0';

    amcf->store.size = NGX_HTTP_APIM_STORE_DEFAULT_SIZE;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "size=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            size = ngx_parse_offset(&s);

            if (size == NGX_ERROR || size < NGX_HTTP_APIM_STORE_MIN_SIZE) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid store size \"%V\", it must be "
                                   "at least 1m", &value[i]);
                return NGX_CONF_ERROR;
            }

            amcf->store.size = (size_t) size;
            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\", it must be "
                                   "at least 32k", &value[i]);
                return NGX_CONF_ERROR;
            }

            amcf->zone_size = (size_t) size;
            continue;
        }

        if (ngx_strncmp(value[i].data, "flush=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            flush = ngx_parse_time(&s, 0);

            if (flush == NGX_ERROR || flush < 10) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid flush interval \"%V\", it must "
                                   "be at least 10ms", &value[i]);
                return NGX_CONF_ERROR;
            }

            amcf->flush = (ngx_msec_t) flush;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    amcf->enabled = 1;

    return ngx_http_apim_store_configure(cf, &amcf->store);
}


static char *
ngx_http_apim_status_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    if (!amcf->enabled) {
        return "needs \"apim_store\" before it in the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_apim_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_apim_status_handler(ngx_http_request_t *r)
{
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apim_module);

    return ngx_http_apim_status_send(r, &amcf->store.path,
                                     amcf->store.size);
}


/* apim_analytics [flush=<time>] [retention=<time>] [zone=<size>] */

static char *
ngx_http_apim_analytics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_apim_main_conf_t  *amcf = conf;

    if (!amcf->enabled) {
        return "needs \"apim_store\" before it in the http block";
    }

    return ngx_http_apim_analytics_parse(cf, &amcf->analytics);
}


static char *
ngx_http_apim_analytics_api_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    if (!amcf->analytics.enabled) {
        return "needs \"apim_analytics\" before it in the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_apim_analytics_get;

    return NGX_CONF_OK;
}


/* apim_metrics [consumer_label=on|off] */

static char *
ngx_http_apim_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_apim_loc_conf_t  *alcf = conf;

    ngx_str_t                  *value;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_apim_main_conf_t  *amcf;

    if (alcf->metrics_consumer != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    if (!amcf->analytics.enabled) {
        return "needs \"apim_analytics\" before it in the http block";
    }

    value = cf->args->elts;
    alcf->metrics_consumer = 0;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "consumer_label=on") == 0) {
            alcf->metrics_consumer = 1;

        } else if (ngx_strcmp(value[1].data, "consumer_label=off") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "apim_metrics: invalid parameter \"%V\", it "
                               "must be \"consumer_label=on\" or "
                               "\"consumer_label=off\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_apim_metrics_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_apim_metrics_handler(ngx_http_request_t *r)
{
    ngx_http_apim_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apim_module);

    return ngx_http_apim_metrics_send(r, alcf->metrics_consumer == 1);
}


/*
 * The log phase: a request to a named API, or one whose key was checked,
 * is counted for analytics.
 */

static ngx_int_t
ngx_http_apim_log_handler(ngx_http_request_t *r)
{
    ngx_time_t                     *tp;
    ngx_msec_int_t                  ms;
    ngx_http_apim_ctx_t            *ctx;
    ngx_http_apim_loc_conf_t       *alcf;
    ngx_http_apim_main_conf_t      *amcf;
    ngx_http_apim_analytics_req_t   req;

    if (r != r->main) {
        return NGX_OK;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apim_module);
    ctx = ngx_http_apim_get_ctx(r);

    if (ctx == NULL && alcf->api.len == 0) {
        return NGX_OK;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apim_module);

    req.api = alcf->api;

    if (ctx) {
        req.consumer = ctx->consumer;
        req.plan = ctx->plan;
        req.reason = ctx->status;

    } else {
        ngx_str_null(&req.consumer);
        ngx_str_null(&req.plan);
        req.reason = NGX_HTTP_APIM_PASSED;
    }

    req.status = r->err_status ? r->err_status : r->headers_out.status;
    req.bytes_in = r->request_length;
    req.bytes_out = r->connection->sent;

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    req.latency = ngx_max(ms, 0);

    ngx_http_apim_analytics_count(amcf->analytics.zone, &req);

    return NGX_OK;
}


static char *
ngx_http_apim_admin_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apim_loc_conf_t  *alcf = conf;

    char                       *rv;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    if (!amcf->enabled) {
        return "needs \"apim_store\" before it in the http block";
    }

    rv = ngx_http_apim_admin_set(cf, &alcf->admin, &amcf->store, &amcf->hmac,
                                 &amcf->plans, &amcf->zone);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_apim_admin_content;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_apim_admin_content(ngx_http_request_t *r)
{
    ngx_http_apim_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apim_module);

    return ngx_http_apim_admin_handler(r, alcf->admin);
}


static char *
ngx_http_apim_plan_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apim_main_conf_t  *amcf = conf;

    return ngx_http_apim_plan_parse(cf, &amcf->plans);
}


/* apim_key off | [header=<name>]... [query=<arg>]... [cookie=<name>]...
 *     [hide=on|off] */

static char *
ngx_http_apim_key_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apim_loc_conf_t  *alcf = conf;

    ngx_str_t                  *value, s;
    ngx_uint_t                  i;
    ngx_http_apim_source_t     *src;
    ngx_http_apim_main_conf_t  *amcf;

    if (alcf->key != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        alcf->key = 0;
        return NGX_CONF_OK;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    if (!amcf->enabled) {
        return "needs \"apim_store\" before it in the http block";
    }

    alcf->key = 1;
    amcf->requires_handler = 1;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "hide=", 5) == 0) {
            if (ngx_strcmp(value[i].data + 5, "on") == 0) {
                alcf->hide = 1;

            } else if (ngx_strcmp(value[i].data + 5, "off") == 0) {
                alcf->hide = 0;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\", it must be "
                                   "\"hide=on\" or \"hide=off\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (alcf->sources == NULL) {
            alcf->sources = ngx_array_create(cf->pool, 2,
                                             sizeof(ngx_http_apim_source_t));
            if (alcf->sources == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        src = ngx_array_push(alcf->sources);
        if (src == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_strncmp(value[i].data, "header=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            src->type = (s.len == 13
                         && ngx_strncasecmp(s.data,
                                            (u_char *) "Authorization", 13)
                            == 0)
                        ? NGX_HTTP_APIM_SOURCE_BEARER
                        : NGX_HTTP_APIM_SOURCE_HEADER;

        } else if (ngx_strncmp(value[i].data, "query=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;
            src->type = NGX_HTTP_APIM_SOURCE_QUERY;

        } else if (ngx_strncmp(value[i].data, "cookie=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;
            src->type = NGX_HTTP_APIM_SOURCE_COOKIE;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (s.len == 0 || s.len > 256) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": the name is "
                               "empty or too long", &value[i]);
            return NGX_CONF_ERROR;
        }

        src->name = s;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_apim_api_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apim_loc_conf_t  *alcf = conf;

    char                       *rv;
    ngx_http_apim_main_conf_t  *amcf;

    if (alcf->api.data) {
        return "is duplicate";
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    rv = ngx_http_apim_api_parse(cf, &amcf->catalogue, &alcf->api_conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    alcf->api = alcf->api_conf->name;

    return NGX_CONF_OK;
}


/*
 * apim_catalogue, apim_usage: answered here, with the key read from the
 * places apim_key names (or its defaults), never counted
 */

static char *
ngx_http_apim_catalogue_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_apim_loc_conf_t  *alcf = conf;

    ngx_str_t                  *name;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_apim_main_conf_t  *amcf;

    if (alcf->endpoint) {
        return "is duplicate";
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    if (!amcf->enabled) {
        return "needs \"apim_store\" before it in the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

#if (NGX_PCRE)
    if (clcf->regex) {
        return "needs a prefix or an exact location, not a regular "
               "expression";
    }
#endif

    if (clcf->named) {
        return "needs a prefix or an exact location, not a named one";
    }

    name = ngx_array_push(&amcf->catalogue.catalogues);
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    *name = clcf->name;

    alcf->endpoint = NGX_HTTP_APIM_ENDPOINT_CATALOGUE;
    clcf->handler = ngx_http_apim_catalogue_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_apim_usage_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apim_loc_conf_t  *alcf = conf;

    ngx_str_t                  *name;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_apim_main_conf_t  *amcf;

    if (alcf->endpoint) {
        return "is duplicate";
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    if (!amcf->enabled) {
        return "needs \"apim_store\" before it in the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    name = ngx_array_push(&amcf->catalogue.usages);
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    *name = clcf->name;

    alcf->endpoint = NGX_HTTP_APIM_ENDPOINT_USAGE;
    clcf->handler = ngx_http_apim_usage_handler;

    return NGX_CONF_OK;
}


/* apim_portal [catalogue=<uri>] [usage=<uri>] [title=<text>] */

static char *
ngx_http_apim_portal_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_apim_loc_conf_t  *alcf = conf;

    char                       *rv;
    ngx_http_apim_portal_t    **pp;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_apim_main_conf_t  *amcf;

    if (alcf->endpoint) {
        return "is duplicate";
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    alcf->portal = ngx_pcalloc(cf->pool, sizeof(ngx_http_apim_portal_t));
    if (alcf->portal == NULL) {
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_apim_portal_parse(cf, alcf->portal);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* built once every catalogue and usage location is known */

    pp = ngx_array_push(&amcf->catalogue.portals);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = alcf->portal;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    alcf->endpoint = NGX_HTTP_APIM_ENDPOINT_PORTAL;
    clcf->handler = ngx_http_apim_portal_handler;

    return NGX_CONF_OK;
}


/* the preaccess phase: Deprecation and Sunset, 410 once the API is gone */

static ngx_int_t
ngx_http_apim_lifecycle_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_apim_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apim_module);

    if (alcf->api_conf == NULL
        || (alcf->api_conf->deprecated == 0 && alcf->api_conf->sunset == 0))
    {
        return NGX_DECLINED;
    }

    rc = ngx_http_apim_sunset_apply(r, alcf->api_conf);

    if (rc == NGX_DECLINED) {
        return rc;
    }

    return ngx_http_apim_finalize(r, rc);
}


static ngx_int_t
ngx_http_apim_catalogue_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_apim_lookup_t      lk;
    ngx_http_apim_main_conf_t  *amcf;

    rc = ngx_http_apim_problem_method(r, "This endpoint answers GET and "
                                         "HEAD.");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apim_module);

    rc = ngx_http_apim_catalogue_docs(r, &amcf->catalogue);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    switch (ngx_http_apim_endpoint_key(r, &lk, &rc)) {

    case NGX_OK:
        return ngx_http_apim_catalogue_send(r, &amcf->catalogue,
                                            &amcf->plans, &lk);

    case NGX_DECLINED:
        return ngx_http_apim_catalogue_send(r, &amcf->catalogue,
                                            &amcf->plans, NULL);

    default:
        return rc;
    }
}


static ngx_int_t
ngx_http_apim_usage_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_apim_ctx_t        *ctx;
    ngx_http_apim_lookup_t      lk;
    ngx_http_apim_problem_t     pr;
    ngx_http_apim_main_conf_t  *amcf;

    rc = ngx_http_apim_problem_method(r, "This endpoint answers GET and "
                                         "HEAD.");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    switch (ngx_http_apim_endpoint_key(r, &lk, &rc)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ctx = ngx_http_apim_get_ctx(r);
        ctx->status = NGX_HTTP_APIM_NO_KEY;

        ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));
        pr.status = NGX_HTTP_UNAUTHORIZED;
        ngx_str_set(&pr.title, "Unauthorized");
        ngx_str_set(&pr.detail, "Send your API key to see its usage.");

        if (ngx_http_apim_header_out(r, "WWW-Authenticate",
                                     (u_char *) "ApiKey realm=\"api\"",
                                     sizeof("ApiKey realm=\"api\"") - 1)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_apim_problem_send(r, &pr);

    default:
        return rc;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apim_module);

    return ngx_http_apim_usage_send(r, amcf->zone, &lk);
}


static ngx_int_t
ngx_http_apim_portal_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_apim_loc_conf_t  *alcf;

    rc = ngx_http_apim_problem_method(r, "This endpoint answers GET and "
                                         "HEAD.");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apim_module);

    return ngx_http_apim_portal_send(r, alcf->portal);
}


/*
 * The key an endpoint is sent, looked up as the access check does.
 * NGX_OK: a good key, in lk; NGX_DECLINED: no key; NGX_DONE: the key is
 * refused and the refusal answered, *rc is the handler's return value.
 * The variables ($apim_key_id, $apim_status, ...) say what was found.
 */

static ngx_int_t
ngx_http_apim_endpoint_key(ngx_http_request_t *r, ngx_http_apim_lookup_t *lk,
    ngx_int_t *rc)
{
    ngx_int_t                   found;
    ngx_str_t                   key;
    ngx_http_apim_ctx_t        *ctx;
    ngx_http_apim_problem_t     pr;
    ngx_http_apim_loc_conf_t   *alcf;
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apim_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_apim_module);

    ctx = ngx_http_apim_get_ctx(r);

    if (ctx == NULL) {
        ctx = ngx_http_apim_create_ctx(r);
        if (ctx == NULL) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DONE;
        }
    }

    ngx_memzero(lk, sizeof(ngx_http_apim_lookup_t));

    found = ngx_http_apim_credential_find(r, alcf->sources, alcf->hide, &key);

    if (found == NGX_ERROR) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DONE;
    }

    if (found == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    if (found == NGX_BUSY) {
        lk->status = NGX_HTTP_APIM_BAD_KEY;
        lk->detail = "The request carries two different API keys.";
        found = NGX_DECLINED;

    } else {
        found = ngx_http_apim_lookup(r, &amcf->hmac, &amcf->plans, &key, lk);
    }

    ctx->key_id = lk->key_id;
    ctx->consumer = lk->consumer;
    ctx->consumer_id = lk->consumer_id;

    if (found == NGX_OK) {
        ctx->plan = lk->plan->name;
        return NGX_OK;
    }

    if (found == NGX_ERROR) {
        ctx->status = NGX_HTTP_APIM_STORE_ERROR;
        *rc = ngx_http_apim_problem_store(r);
        return NGX_DONE;
    }

    ctx->status = lk->status;

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    pr.detail.data = (u_char *) lk->detail;
    pr.detail.len = ngx_strlen(lk->detail);

    if (lk->status == NGX_HTTP_APIM_FORBIDDEN) {
        pr.status = NGX_HTTP_FORBIDDEN;
        ngx_str_set(&pr.title, "Forbidden");

    } else {
        pr.status = NGX_HTTP_UNAUTHORIZED;
        ngx_str_set(&pr.title, "Unauthorized");

        if (ngx_http_apim_header_out(r, "WWW-Authenticate",
                                     (u_char *) "ApiKey realm=\"api\"",
                                     sizeof("ApiKey realm=\"api\"") - 1)
            == NULL)
        {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DONE;
        }
    }

    *rc = ngx_http_apim_problem_send(r, &pr);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_apim_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_apim_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_apim_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_apim_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->store.path = { 0, NULL };
     *     amcf->store.maxreaders = 0;
     *     amcf->enabled = 0;
     *     amcf->zone = NULL;
     *     amcf->secret_file = { 0, NULL };
     *     amcf->requires_handler = 0;
     */

    amcf->store.size = NGX_CONF_UNSET_SIZE;
    amcf->zone_size = NGX_HTTP_APIM_ZONE_SIZE;
    amcf->flush = NGX_HTTP_APIM_FLUSH;

    if (ngx_array_init(&amcf->plans, cf->pool, 4,
                       sizeof(ngx_http_apim_plan_t))
        != NGX_OK
        || ngx_http_apim_catalogue_init(cf, &amcf->catalogue) != NGX_OK)
    {
        return NULL;
    }

    return amcf;
}


static void *
ngx_http_apim_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_apim_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_apim_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->sources = NULL;
     *     alcf->api = { 0, NULL };
     *     alcf->admin = NULL;
     *     alcf->api_conf = NULL;
     *     alcf->endpoint = 0;
     *     alcf->portal = NULL;
     */

    alcf->key = NGX_CONF_UNSET;
    alcf->hide = NGX_CONF_UNSET;
    alcf->headers = NGX_CONF_UNSET_UINT;
    alcf->fail = NGX_CONF_UNSET_UINT;
    alcf->upstream_headers = NGX_CONF_UNSET;
    alcf->metrics_consumer = NGX_CONF_UNSET;
    alcf->admin_token = NGX_CONF_UNSET_PTR;
    alcf->admin_body_max = NGX_CONF_UNSET_SIZE;

    return alcf;
}


static char *
ngx_http_apim_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_apim_loc_conf_t *prev = parent;
    ngx_http_apim_loc_conf_t *conf = child;

    ngx_http_apim_source_t  *src;

    if (conf->key == NGX_CONF_UNSET) {
        conf->key = prev->key;
        conf->sources = prev->sources;

        if (conf->hide == NGX_CONF_UNSET) {
            conf->hide = prev->hide;
        }
    }

    ngx_conf_merge_value(conf->key, prev->key, 0);
    ngx_conf_merge_value(conf->hide, prev->hide, 1);

    /*
     * An endpoint reads the key itself, from where apim_key would (its
     * own or around it), and is never checked or counted.
     */

    if (conf->endpoint) {
        if (!conf->key) {
            conf->sources = NULL;
        }

        conf->key = 0;
    }

    if ((conf->key || conf->endpoint) && conf->sources == NULL) {

        /* the defaults: X-API-Key, and Authorization: Bearer */

        conf->sources = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_apim_source_t));
        if (conf->sources == NULL) {
            return NGX_CONF_ERROR;
        }

        src = ngx_array_push_n(conf->sources, 2);
        if (src == NULL) {
            return NGX_CONF_ERROR;
        }

        src[0].type = NGX_HTTP_APIM_SOURCE_HEADER;
        ngx_str_set(&src[0].name, "X-API-Key");
        src[1].type = NGX_HTTP_APIM_SOURCE_BEARER;
        ngx_str_set(&src[1].name, "Authorization");
    }

    if (conf->api.data == NULL) {
        conf->api = prev->api;
        conf->api_conf = prev->api_conf;
    }

    ngx_conf_merge_uint_value(conf->headers, prev->headers,
                              NGX_HTTP_APIM_HEADERS_IETF);
    ngx_conf_merge_uint_value(conf->fail, prev->fail,
                              NGX_HTTP_APIM_FAIL_CLOSED);
    ngx_conf_merge_value(conf->upstream_headers, prev->upstream_headers, 1);

    ngx_conf_merge_ptr_value(conf->admin_token, prev->admin_token, NULL);
    ngx_conf_merge_size_value(conf->admin_body_max, prev->admin_body_max,
                              NGX_HTTP_APIM_ADMIN_BODY_MAX);

    if (conf->admin) {
        return ngx_http_apim_admin_merge(cf, conf->admin, conf->admin_token,
                                         conf->admin_body_max);
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_apim_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    if (ngx_http_apim_init_catalogue(cf, amcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!amcf->enabled) {
        return NGX_OK;
    }

    amcf->zone = ngx_http_apim_limit_zone(cf, amcf->zone_size,
                                          &ngx_http_apim_module);
    if (amcf->zone == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_apim_load_secret(cf, amcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (amcf->analytics.enabled) {
        if (ngx_http_apim_analytics_init_conf(cf, &amcf->analytics,
                                              &ngx_http_apim_module)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

        h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_apim_log_handler;
    }

    if (!amcf->requires_handler) {
        return NGX_OK;
    }

    ngx_http_apim_upstream_init();

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_apim_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_apim_count_handler;

    return NGX_OK;
}


/*
 * The catalogue, once every apim_api is read: its checks, the portals'
 * pages, and the lifecycle handler when an API has a deprecation or
 * sunset date.
 */

static ngx_int_t
ngx_http_apim_init_catalogue(ngx_conf_t *cf, ngx_http_apim_main_conf_t *amcf)
{
    ngx_uint_t                  i;
    ngx_http_handler_pt        *h;
    ngx_http_apim_portal_t    **pp;
    ngx_http_core_main_conf_t  *cmcf;

    if (ngx_http_apim_catalogue_finalize(cf, &amcf->catalogue) != NGX_OK) {
        return NGX_ERROR;
    }

    pp = amcf->catalogue.portals.elts;

    for (i = 0; i < amcf->catalogue.portals.nelts; i++) {
        if (ngx_http_apim_portal_build(cf, pp[i],
                                       &amcf->catalogue.catalogues,
                                       &amcf->catalogue.usages)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (!amcf->catalogue.lifecycle) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_apim_lifecycle_handler;

    return NGX_OK;
}


/*
 * The server secret: apim_secret's file, else one made once in the store
 * directory.  The store remembers which secret its keys were hashed with.
 */

static ngx_int_t
ngx_http_apim_load_secret(ngx_conf_t *cf, ngx_http_apim_main_conf_t *amcf)
{
    u_char            secret[NGX_APIM_SECRET_MAX];
    char              err[NGX_APIM_STORE_ERRLEN];
    size_t            len;
    ngx_str_t         path;
    ngx_apim_store_t  st;

    if (amcf->secret_file.len) {
        path = amcf->secret_file;

        if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        path.len = amcf->store.path.len + sizeof("/" NGX_APIM_SECRET_FILE);
        path.data = ngx_pnalloc(cf->pool, path.len);
        if (path.data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(path.data, "%V/" NGX_APIM_SECRET_FILE "%Z",
                    &amcf->store.path);
        path.len--;

        if (ngx_apim_secret_create((char *) path.data, err, sizeof(err))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "apim_store \"%V\": %s", &amcf->store.path,
                               err);
            return NGX_ERROR;
        }
    }

    len = sizeof(secret);

    if (ngx_apim_secret_read((char *) path.data, secret, &len, err,
                             sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "apim_secret \"%V\": %s",
                           &path, err);
        return NGX_ERROR;
    }

    ngx_apim_hmac_init(&amcf->hmac, secret, len);
    OPENSSL_cleanse(secret, sizeof(secret));

    if (ngx_apim_store_open(&st, (char *) amcf->store.path.data,
                            amcf->store.size, amcf->store.maxreaders,
                            NGX_APIM_STORE_CREATE)
        != NGX_APIM_STORE_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "apim_store \"%V\": %s",
                           &amcf->store.path, st.err);
        return NGX_ERROR;
    }

    if (ngx_apim_secret_check(&st, &amcf->hmac, err, sizeof(err))
        != NGX_APIM_STORE_OK)
    {
        ngx_apim_store_close(&st);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "apim_secret \"%V\": %s",
                           &path, err);
        return NGX_ERROR;
    }

    ngx_apim_store_close(&st);

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_init_module(ngx_cycle_t *cycle)
{
    ngx_str_t                   plans;
    ngx_http_apim_main_conf_t  *amcf;

    ngx_http_apim_lookup_cache_clear();

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_apim_module);

    if (amcf == NULL || !amcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_apim_store_init_module(cycle, &amcf->store) != NGX_OK) {
        return NGX_ERROR;
    }

    /* for "apimctl plans" */

    if (ngx_http_apim_plan_text(cycle->pool, &amcf->plans, &plans) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_apim_store_publish(cycle, &amcf->store, "plans", &plans);
}


static ngx_int_t
ngx_http_apim_init_process(ngx_cycle_t *cycle)
{
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_apim_module);

    if (amcf == NULL || !amcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_apim_store_init_process(cycle, &amcf->store) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_apim_limit_start_flush(cycle, amcf->zone, amcf->flush);

    if (amcf->analytics.zone) {
        ngx_http_apim_analytics_start_flush(cycle, amcf->analytics.zone);
    }

    return NGX_OK;
}


/* every worker writes what it counted before the store closes */

static void
ngx_http_apim_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_apim_module);

    if (amcf && amcf->enabled && amcf->zone) {
        (void) ngx_http_apim_limit_flush(amcf->zone, cycle->log, 0);
    }

    if (amcf && amcf->enabled && amcf->analytics.zone) {
        (void) ngx_http_apim_analytics_flush(amcf->analytics.zone,
                                             cycle->log, 0);
    }

    ngx_http_apim_store_exit_process(cycle);
}
