
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * ngx_http_mesh_module: service-to-service identity, authorization and
 * limits.  It is built into the same shared object as ngx_http_apim_module
 * so that both use one LMDB environment per process (ngx_http_apim_store()).
 * This file holds the directives and the configuration; the work is done by
 * the code in src/ (ngx_http_mesh_identity*.c, ngx_http_mesh_peer.c,
 * ngx_http_mesh_authz*.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mesh.h"
#include "ngx_http_mesh_peer.h"
#include "ngx_http_mesh_identity.h"
#include "ngx_http_mesh_identity_bundle.h"
#include "ngx_http_mesh_identity_upstream.h"
#include "ngx_http_mesh_authz.h"


static void *ngx_http_mesh_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_mesh_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_mesh_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_mesh_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_mesh_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_mesh_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_mesh_init(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_mesh_default_modes[] = {
    { ngx_string("allow"), NGX_HTTP_MESH_DEFAULT_ALLOW },
    { ngx_string("deny"), NGX_HTTP_MESH_DEFAULT_DENY },
    { ngx_string("audit"), NGX_HTTP_MESH_DEFAULT_AUDIT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_mesh_limit_headers_modes[] = {
    { ngx_string("reject"), NGX_HTTP_MESH_HEADERS_REJECT },
    { ngx_string("all"), NGX_HTTP_MESH_HEADERS_ALL },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_mesh_commands[] = {

    { ngx_string("mesh_trust_domain"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mesh_trust_domain,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_mesh_srv_conf_t, trust_domain),
      NULL },

    { ngx_string("mesh_trust_bundle"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE2,
      ngx_http_mesh_trust_bundle,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mesh_mtls"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mesh_mtls,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mesh_loc_conf_t, mtls),
      NULL },

    { ngx_string("mesh_upstream_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mesh_upstream_id,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mesh_service"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mesh_service_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mesh_allow"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mesh_rule_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mesh_deny"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mesh_rule_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      1,
      NULL },

    { ngx_string("mesh_default"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mesh_default_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mesh_loc_conf_t, dflt),
      &ngx_http_mesh_default_modes },

    { ngx_string("mesh_limit"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_mesh_limit_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mesh_limit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mesh_limit_headers_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mesh_loc_conf_t, limit_headers),
      &ngx_http_mesh_limit_headers_modes },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_mesh_module_ctx = {
    ngx_http_mesh_add_variables,           /* preconfiguration */
    ngx_http_mesh_init,                    /* postconfiguration */

    ngx_http_mesh_create_main_conf,        /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_mesh_create_srv_conf,         /* create server configuration */
    ngx_http_mesh_merge_srv_conf,          /* merge server configuration */

    ngx_http_mesh_create_loc_conf,         /* create location configuration */
    ngx_http_mesh_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_mesh_module = {
    NGX_MODULE_V1,
    &ngx_http_mesh_module_ctx,             /* module context */
    ngx_http_mesh_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_mesh_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_mesh_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mesh_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->requires_identity = 0;
     *     mmcf->requires_upstream_id = 0;
     *     mmcf->limit_zone = NULL;
     *     mmcf->audit_zone = NULL;
     *     mmcf->requires_authz = 0;
     *     mmcf->requires_audit = 0;
     *     mmcf->limit_file = { 0, NULL };
     *     mmcf->limit_line = 0;
     */

    return mmcf;
}


static void *
ngx_http_mesh_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_mesh_srv_conf_t  *mscf;

    mscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mesh_srv_conf_t));
    if (mscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mscf->trust_domain = { 0, NULL };
     *     mscf->bundles = NULL;
     *     mscf->upstream_init = NULL;
     */

    return mscf;
}


static char *
ngx_http_mesh_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mesh_srv_conf_t *prev = parent;
    ngx_http_mesh_srv_conf_t *conf = child;

    ngx_conf_merge_str_value(conf->trust_domain, prev->trust_domain, "");

    if (conf->bundles == NULL) {
        conf->bundles = prev->bundles;
    }

    return ngx_http_mesh_identity_check_srv_conf(cf, conf);
}


static void *
ngx_http_mesh_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_mesh_loc_conf_t  *mlcf;

    mlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mesh_loc_conf_t));
    if (mlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mlcf->upstream_ids = NULL;
     *     mlcf->service = { 0, NULL };
     *     mlcf->rules = NULL;
     *     mlcf->limits = NULL;
     *     mlcf->has_allow = 0;
     *     mlcf->has_deny = 0;
     *     mlcf->rule_name = { 0, NULL };
     *     mlcf->rule_file = { 0, NULL };
     *     mlcf->rule_line = 0;
     */

    mlcf->mtls = NGX_CONF_UNSET_UINT;
    mlcf->dflt = NGX_CONF_UNSET_UINT;
    mlcf->limit_headers = NGX_CONF_UNSET_UINT;

    return mlcf;
}


static char *
ngx_http_mesh_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mesh_loc_conf_t *prev = parent;
    ngx_http_mesh_loc_conf_t *conf = child;

    ngx_conf_merge_uint_value(conf->mtls, prev->mtls,
                              NGX_HTTP_MESH_MTLS_OFF);

    if (conf->upstream_ids == NULL) {
        conf->upstream_ids = prev->upstream_ids;
    }

    /*
     * without "strict", callers without a verified identity reach the
     * rules; they never match them, but the operator should know
     */

    if (conf->rule_name.len && conf->mtls != NGX_HTTP_MESH_MTLS_STRICT) {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "\"%V\" in %V:%ui is used without \"mesh_mtls "
                      "strict\": callers without a verified identity "
                      "match no identity rule",
                      &conf->rule_name, &conf->rule_file, conf->rule_line);
    }

    if (conf->service.data == NULL) {
        conf->service = prev->service;
    }

    /* as with allow and deny: a level with rules of its own replaces */

    if (conf->rules == NULL) {
        conf->rules = prev->rules;
        conf->has_allow = prev->has_allow;
        conf->has_deny = prev->has_deny;
    }

    if (conf->limits == NULL) {
        conf->limits = prev->limits;
    }

    if (conf->dflt == NGX_CONF_UNSET_UINT) {
        conf->dflt = prev->dflt;
    }

    ngx_conf_merge_uint_value(conf->limit_headers, prev->limit_headers,
                              NGX_HTTP_MESH_HEADERS_REJECT);

    if (conf->dflt == NGX_CONF_UNSET_UINT && conf->service.len) {
        conf->dflt = NGX_HTTP_MESH_DEFAULT_DENY;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mesh_add_variables(ngx_conf_t *cf)
{
    if (ngx_http_mesh_peer_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_mesh_authz_add_variables(cf);
}


static ngx_int_t
ngx_http_mesh_init(ngx_conf_t *cf)
{
    /*
     * nginx runs the access handlers registered last first: identity,
     * registered after authorization (and the east-west limit), runs
     * before them
     */

    if (ngx_http_mesh_authz_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_mesh_identity_init(cf);
}
