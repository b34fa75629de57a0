
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * ngx_http_mesh_module: service-to-service identity, authorization and
 * limits.  It is built into the same shared object as ngx_http_apim_module
 * so that both use one LMDB environment per process (ngx_http_apim_store()).
 * This file holds the directives and the configuration; the work is done by
 * the code in src/ (ngx_http_mesh_identity*.c, ngx_http_mesh_peer.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mesh.h"
#include "ngx_http_mesh_peer.h"
#include "ngx_http_mesh_identity.h"
#include "ngx_http_mesh_identity_bundle.h"
#include "ngx_http_mesh_identity_upstream.h"


static void *ngx_http_mesh_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_mesh_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_mesh_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_mesh_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_mesh_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_mesh_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_mesh_init(ngx_conf_t *cf);


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
     */

    mlcf->mtls = NGX_CONF_UNSET_UINT;

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

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mesh_add_variables(ngx_conf_t *cf)
{
    return ngx_http_mesh_peer_add_variables(cf);
}


static ngx_int_t
ngx_http_mesh_init(ngx_conf_t *cf)
{
    return ngx_http_mesh_identity_init(cf);
}
