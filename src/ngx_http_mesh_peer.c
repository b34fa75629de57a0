
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The peer identity of a request, its $mesh_peer_* variables, and
 * mesh_mtls strict in the access phase.  A TLS connection's peer is
 * checked once, on its first request, and kept in the connection's pool,
 * found again through the SSL object's ex_data: later keep-alive requests
 * (and HTTP/2 streams) pay a pointer lookup.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mesh.h"
#include "ngx_http_mesh_peer.h"
#include "ngx_http_mesh_identity.h"
#include "ngx_http_mesh_identity_cache.h"
#include "ngx_http_apim_problem.h"


#define NGX_HTTP_MESH_PEER_ID            0
#define NGX_HTTP_MESH_PEER_TRUST_DOMAIN  1
#define NGX_HTTP_MESH_PEER_PATH          2
#define NGX_HTTP_MESH_PEER_VERIFIED      3

#define NGX_HTTP_MESH_IDENTITY_TYPE                                          \
    "https://nginx-apim.dev/problems/mesh-identity"


/* a connection's peer, and the server whose bundles checked it */

typedef struct {
    ngx_http_mesh_peer_t         peer;
    ngx_http_mesh_srv_conf_t    *checked_by;
} ngx_http_mesh_peer_cache_t;


static ngx_int_t ngx_http_mesh_peer_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_mesh_peer_t  ngx_http_mesh_peer_none;

static int  ngx_http_mesh_peer_index = -1;


static ngx_http_variable_t  ngx_http_mesh_peer_vars[] = {

    { ngx_string("mesh_peer_id"), NULL, ngx_http_mesh_peer_variable,
      NGX_HTTP_MESH_PEER_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mesh_peer_trust_domain"), NULL,
      ngx_http_mesh_peer_variable, NGX_HTTP_MESH_PEER_TRUST_DOMAIN,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mesh_peer_path"), NULL, ngx_http_mesh_peer_variable,
      NGX_HTTP_MESH_PEER_PATH, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mesh_peer_verified"), NULL, ngx_http_mesh_peer_variable,
      NGX_HTTP_MESH_PEER_VERIFIED, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_http_mesh_peer_t *
ngx_http_mesh_peer(ngx_http_request_t *r, ngx_http_mesh_loc_conf_t *mlcf)
{
    ngx_ssl_conn_t               *ssl_conn;
    ngx_http_mesh_srv_conf_t     *mscf;
    ngx_http_mesh_peer_cache_t   *cache;

    if (mlcf->mtls == NGX_HTTP_MESH_MTLS_OFF
        || r->connection->ssl == NULL
        || ngx_http_mesh_peer_index == -1)
    {
        return &ngx_http_mesh_peer_none;
    }

    ssl_conn = r->connection->ssl->connection;

    cache = SSL_get_ex_data(ssl_conn, ngx_http_mesh_peer_index);
    mscf = ngx_http_get_module_srv_conf(r, ngx_http_mesh_module);

    if (cache && cache->checked_by == mscf) {
        return &cache->peer;
    }

    return ngx_http_mesh_peer_check(r, ssl_conn);
}


/*
 * The first request of a connection (or the first one for another server
 * with other bundles): the certificate is checked, and the result kept in
 * the pool of the TCP connection the SSL object belongs to, which outlives
 * every request and HTTP/2 stream on it.  Certificates this worker
 * verified before for another connection are not verified again
 * (src/ngx_http_mesh_identity_cache.c).  Not static: kept out of
 * ngx_http_mesh_peer(), whose keep-alive path then saves no registers.
 */

ngx_http_mesh_peer_t *
ngx_http_mesh_peer_check(ngx_http_request_t *r, ngx_ssl_conn_t *ssl_conn)
{
    u_char                       key[NGX_HTTP_MESH_SVID_KEY_LEN];
    X509                        *leaf;
    ngx_int_t                    rc, keyed;
    STACK_OF(X509)              *chain;
    ngx_connection_t            *c;
    ngx_http_mesh_srv_conf_t    *mscf;
    ngx_http_mesh_peer_cache_t  *cache;

    c = ngx_ssl_get_connection(ssl_conn);
    mscf = ngx_http_get_module_srv_conf(r, ngx_http_mesh_module);

    cache = SSL_get_ex_data(ssl_conn, ngx_http_mesh_peer_index);

    if (cache == NULL) {
        cache = ngx_pcalloc(c->pool, sizeof(ngx_http_mesh_peer_cache_t));
        if (cache == NULL) {
            return NULL;
        }

        if (SSL_set_ex_data(ssl_conn, ngx_http_mesh_peer_index, cache) == 0) {
            ngx_ssl_error(NGX_LOG_ALERT, c->log, 0,
                          "SSL_set_ex_data() failed");
            return NULL;
        }
    }

    ngx_memzero(&cache->peer, sizeof(ngx_http_mesh_peer_t));
    cache->checked_by = NULL;

    leaf = SSL_get_peer_certificate(ssl_conn);

    if (leaf) {
        chain = SSL_get_peer_cert_chain(ssl_conn);

        keyed = (ngx_http_mesh_svid_cache_key(leaf, chain, key) == NGX_OK);

        rc = keyed ? ngx_http_mesh_svid_cache_get(c->pool, key,
                                                  mscf->bundles,
                                                  &cache->peer)
                   : NGX_DECLINED;

        if (rc == NGX_DECLINED) {
            rc = ngx_http_mesh_identity_verify(c->pool, leaf, chain,
                                               mscf->bundles,
                                               X509_PURPOSE_SSL_CLIENT,
                                               &cache->peer);

            if (rc == NGX_OK && keyed) {
                ngx_http_mesh_svid_cache_put(key, mscf->bundles,
                                             &cache->peer);
            }
        }

        X509_free(leaf);

        if (rc != NGX_OK) {
            return NULL;
        }

        if (cache->peer.verified) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "mesh peer: \"%V\"", &cache->peer.id);

        } else {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mesh: client certificate refused: %V",
                          &cache->peer.error);
        }
    }

    cache->checked_by = mscf;

    return &cache->peer;
}


static ngx_int_t
ngx_http_mesh_peer_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *s;
    ngx_http_mesh_peer_t      *peer;
    ngx_http_mesh_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mesh_module);

    peer = ngx_http_mesh_peer(r, mlcf);
    if (peer == NULL) {
        return NGX_ERROR;
    }

    switch (data) {

    case NGX_HTTP_MESH_PEER_ID:
        s = &peer->id;
        break;

    case NGX_HTTP_MESH_PEER_TRUST_DOMAIN:
        s = &peer->trust_domain;
        break;

    case NGX_HTTP_MESH_PEER_PATH:
        s = &peer->path;
        break;

    default: /* NGX_HTTP_MESH_PEER_VERIFIED */
        v->len = peer->verified ? 2 : 3;
        v->data = (u_char *) (peer->verified ? "on" : "off");
        v->valid = 1;
        v->no_cacheable = 0;
        v->not_found = 0;
        return NGX_OK;
    }

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * mesh_mtls strict: a request without a verified SVID gets no further.
 * When any level configures authorization, this is not an access handler
 * of its own: the authorization handler calls it for levels without
 * authorization, and checks the peer itself (ngx_http_mesh_peer_strict())
 * where it decides, so that one handler runs and the peer is looked up
 * once a request.
 */

ngx_int_t
ngx_http_mesh_peer_handler(ngx_http_request_t *r)
{
    ngx_http_mesh_peer_t      *peer;
    ngx_http_mesh_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mesh_module);

    if (mlcf->mtls != NGX_HTTP_MESH_MTLS_STRICT
        || ngx_http_mesh_authz_configured(mlcf))
    {
        return NGX_DECLINED;
    }

    peer = ngx_http_mesh_peer(r, mlcf);
    if (peer == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_mesh_peer_strict(r, mlcf, peer);
}


/* NGX_DECLINED: the peer may go on; else the request is answered */

ngx_int_t
ngx_http_mesh_peer_strict(ngx_http_request_t *r,
    ngx_http_mesh_loc_conf_t *mlcf, ngx_http_mesh_peer_t *peer)
{
    ngx_int_t                 rc;
    ngx_str_t                *reason, none;
    ngx_http_apim_problem_t   pr;

    if (mlcf->mtls != NGX_HTTP_MESH_MTLS_STRICT || peer->verified) {
        return NGX_DECLINED;
    }

    if (peer->error.len) {
        reason = &peer->error;

    } else {
        if (r->connection->ssl) {
            ngx_str_set(&none, "no client certificate");

        } else {
            ngx_str_set(&none, "not over TLS");
        }

        reason = &none;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mesh_mtls strict refused the request: %V", reason);

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    pr.status = NGX_HTTP_FORBIDDEN;
    ngx_str_set(&pr.type, NGX_HTTP_MESH_IDENTITY_TYPE);
    ngx_str_set(&pr.title, "Forbidden");
    ngx_str_set(&pr.detail, "This service accepts only callers with a "
                            "verified SPIFFE identity (an X.509-SVID client "
                            "certificate).");

    rc = ngx_http_apim_problem_send(r, &pr);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


ngx_int_t
ngx_http_mesh_peer_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_mesh_peer_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_mesh_peer_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_mesh_main_conf_t  *mmcf;

    /* the bundles are new: what was verified with the old ones is not */

    ngx_http_mesh_svid_cache_reset();

    if (ngx_http_mesh_peer_index == -1) {
        ngx_http_mesh_peer_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
                                                        NULL);
        if (ngx_http_mesh_peer_index == -1) {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "SSL_get_ex_new_index() failed");
            return NGX_ERROR;
        }
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mesh_module);

    if (mmcf->requires_authz) {
        /* the authorization handler calls ngx_http_mesh_peer_handler() */
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mesh_peer_handler;

    return NGX_OK;
}
