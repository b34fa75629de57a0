
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The configuration of ngx_http_mesh_module, shared by the module file and
 * the mesh code in src/: identity (mesh_mtls, trust bundles, upstream IDs)
 * and authorization (mesh_service, mesh_allow, mesh_deny, mesh_default,
 * mesh_limit).
 */


#ifndef _NGX_HTTP_MESH_H_INCLUDED_
#define _NGX_HTTP_MESH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/x509.h>


#define NGX_HTTP_MESH_MTLS_OFF         0
#define NGX_HTTP_MESH_MTLS_PERMISSIVE  1
#define NGX_HTTP_MESH_MTLS_STRICT      2

#define NGX_HTTP_MESH_DEFAULT_ALLOW    0
#define NGX_HTTP_MESH_DEFAULT_DENY     1
#define NGX_HTTP_MESH_DEFAULT_AUDIT    2

#define NGX_HTTP_MESH_PER_EDGE         0
#define NGX_HTTP_MESH_PER_SOURCE       1

#define NGX_HTTP_MESH_HEADERS_REJECT   0    /* RateLimit only on a 429 */
#define NGX_HTTP_MESH_HEADERS_ALL      1


/* the trust anchors of one trust domain (mesh_trust_bundle) */

typedef struct {
    ngx_str_t                     trust_domain;
    X509_STORE                   *store;
} ngx_http_mesh_bundle_t;


typedef struct {
    ngx_uint_t                    requires_identity;    /* mesh_mtls */
    ngx_uint_t                    requires_upstream_id; /* mesh_upstream_id */

    ngx_shm_zone_t               *limit_zone;  /* the APIM limiter's */
    ngx_shm_zone_t               *audit_zone;  /* counts audited denials */
    ngx_uint_t                    requires_authz;
    ngx_uint_t                    requires_audit;
    ngx_str_t                     limit_file;  /* where mesh_limit is */
    ngx_uint_t                    limit_line;
} ngx_http_mesh_main_conf_t;


typedef struct {
    ngx_str_t                     trust_domain;  /* mesh_trust_domain */
    ngx_array_t                  *bundles;       /* ngx_http_mesh_bundle_t */

    /* in an upstream{} block: the balancer's peer.init mesh_upstream_id
       wraps */
    ngx_http_upstream_init_peer_pt  upstream_init;
} ngx_http_mesh_srv_conf_t;


typedef struct {
    ngx_uint_t                    mtls;          /* NGX_HTTP_MESH_MTLS_* */
    ngx_array_t                  *upstream_ids;  /* ngx_str_t patterns */

    ngx_str_t                     service;       /* mesh_service */
    ngx_array_t                  *rules;         /* ngx_http_mesh_rule_t */
    ngx_array_t                  *limits;        /* ngx_http_mesh_limit_t */
    ngx_uint_t                    dflt;          /* NGX_HTTP_MESH_DEFAULT_* */
    ngx_uint_t                    limit_headers; /* NGX_HTTP_MESH_HEADERS_* */
    ngx_uint_t                    has_allow;     /* an allow among rules */
    ngx_uint_t                    has_deny;      /* a deny among rules */

    /* the level's first identity rule, for the warning without strict */
    ngx_str_t                     rule_name;
    ngx_str_t                     rule_file;
    ngx_uint_t                    rule_line;
} ngx_http_mesh_loc_conf_t;


/* a level the authorization handler has something to do for */

#define ngx_http_mesh_authz_configured(mlcf)                                 \
    ((mlcf)->service.len || (mlcf)->rules || (mlcf)->limits                  \
     || (mlcf)->dflt != NGX_CONF_UNSET_UINT)


extern ngx_module_t  ngx_http_mesh_module;


#endif /* _NGX_HTTP_MESH_H_INCLUDED_ */
