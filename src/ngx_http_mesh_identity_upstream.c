
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * mesh_upstream_id: nginx, calling an upstream over TLS, refuses it unless
 * its certificate is a valid X.509-SVID, verified to mesh_trust_bundle,
 * whose SPIFFE ID matches a pattern.  The check runs inside the handshake,
 * before the request is sent.
 *
 * Every upstream's peer.init is wrapped at configuration time.  For a
 * location with mesh_upstream_id the wrapper puts itself between the
 * upstream and its balancer: set_session, which nginx calls right before
 * the handshake (with proxy_ssl_session_reuse on, the default), installs
 * the verify callback on the SSL object and offers no session to resume,
 * so that the upstream always shows its certificate; get refuses a cached
 * keep-alive connection unless its checked ID matches too.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_mesh_spiffe.h"
#include "ngx_http_mesh.h"
#include "ngx_http_mesh_peer.h"
#include "ngx_http_mesh_identity.h"
#include "ngx_http_mesh_identity_upstream.h"


typedef struct {
    void                            *data;
    ngx_event_get_peer_pt            get;
    ngx_event_free_peer_pt           free;
    ngx_event_notify_peer_pt         notify;
    ngx_event_set_peer_session_pt    set_session;
    ngx_event_save_peer_session_pt   save_session;
    ngx_http_request_t              *request;
} ngx_http_mesh_upstream_peer_t;


static ngx_int_t ngx_http_mesh_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_mesh_upstream_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_mesh_upstream_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static void ngx_http_mesh_upstream_notify_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t type);
static ngx_int_t ngx_http_mesh_upstream_set_session(
    ngx_peer_connection_t *pc, void *data);
static void ngx_http_mesh_upstream_save_session(ngx_peer_connection_t *pc,
    void *data);
static int ngx_http_mesh_upstream_verify(int ok, X509_STORE_CTX *x509_store);
static ngx_int_t ngx_http_mesh_upstream_match(ngx_array_t *patterns,
    ngx_str_t *id);


/* the upstream connection's checked SPIFFE ID (an ngx_str_t in its pool),
   or ngx_http_mesh_upstream_refused */
static int  ngx_http_mesh_upstream_index = -1;

static ngx_str_t  ngx_http_mesh_upstream_refused = ngx_null_string;


char *
ngx_http_mesh_upstream_id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mesh_loc_conf_t *mlcf = conf;

    ngx_str_t                  *value, *s;
    ngx_uint_t                  i;
    const char                 *err;
    ngx_mesh_str_t              pattern;
    ngx_http_mesh_main_conf_t  *mmcf;

    if (mlcf->upstream_ids) {
        return "is duplicate";
    }

    mlcf->upstream_ids = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(ngx_str_t));
    if (mlcf->upstream_ids == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        pattern.len = value[i].len;
        pattern.data = (const char *) value[i].data;

        err = ngx_mesh_spiffe_check_pattern(&pattern);
        if (err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid SPIFFE ID pattern \"%V\": %s",
                               &value[i], err);
            return NGX_CONF_ERROR;
        }

        s = ngx_array_push(mlcf->upstream_ids);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mesh_module);
    mmcf->requires_upstream_id = 1;

    return NGX_CONF_OK;
}


/*
 * Postconfiguration: every upstream's balancer is initialized by now
 * (ngx_http_upstream_init_main_conf), implicit ones (proxy_pass with an
 * address) included; each peer.init is wrapped.  An upstream{} block keeps
 * the original in its own server configuration of this module; an implicit
 * upstream has none, and always uses round robin.
 */

ngx_int_t
ngx_http_mesh_upstream_id_init(ngx_conf_t *cf)
{
    ngx_uint_t                      i;
    ngx_http_mesh_srv_conf_t       *mscf;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;

    if (ngx_http_mesh_upstream_index == -1) {
        ngx_http_mesh_upstream_index = SSL_get_ex_new_index(0, NULL, NULL,
                                                            NULL, NULL);
        if (ngx_http_mesh_upstream_index == -1) {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "SSL_get_ex_new_index() failed");
            return NGX_ERROR;
        }
    }

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {

        if (uscfp[i]->srv_conf) {
            mscf = uscfp[i]->srv_conf[ngx_http_mesh_module.ctx_index];
            mscf->upstream_init = uscfp[i]->peer.init;

        } else if (uscfp[i]->peer.init
                   != ngx_http_upstream_init_round_robin_peer)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "mesh_upstream_id cannot check the upstream "
                          "\"%V\" in %s:%ui", &uscfp[i]->host,
                          uscfp[i]->file_name, uscfp[i]->line);
            return NGX_ERROR;
        }

        uscfp[i]->peer.init = ngx_http_mesh_upstream_init_peer;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mesh_upstream_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_t             *u;
    ngx_http_mesh_loc_conf_t        *mlcf;
    ngx_http_mesh_srv_conf_t        *mscf;
    ngx_http_mesh_upstream_peer_t   *mp;
    ngx_http_upstream_init_peer_pt   init;

    if (us->srv_conf) {
        mscf = us->srv_conf[ngx_http_mesh_module.ctx_index];
        init = mscf->upstream_init;

    } else {
        init = ngx_http_upstream_init_round_robin_peer;
    }

    if (init(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mesh_module);

    if (mlcf->upstream_ids == NULL) {
        return NGX_OK;
    }

    u = r->upstream;

    if (!u->ssl || !u->conf->ssl_session_reuse) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mesh_upstream_id needs the upstream to be proxied "
                      "over TLS with proxy_ssl_session_reuse on");
        return NGX_ERROR;
    }

    mp = ngx_palloc(r->pool, sizeof(ngx_http_mesh_upstream_peer_t));
    if (mp == NULL) {
        return NGX_ERROR;
    }

    mp->data = u->peer.data;
    mp->get = u->peer.get;
    mp->free = u->peer.free;
    mp->notify = u->peer.notify;
    mp->set_session = u->peer.set_session;
    mp->save_session = u->peer.save_session;
    mp->request = r;

    u->peer.data = mp;
    u->peer.get = ngx_http_mesh_upstream_get_peer;
    u->peer.free = ngx_http_mesh_upstream_free_peer;
    u->peer.set_session = ngx_http_mesh_upstream_set_session;
    u->peer.save_session = ngx_http_mesh_upstream_save_session;

    if (mp->notify) {
        u->peer.notify = ngx_http_mesh_upstream_notify_peer;
    }

    return NGX_OK;
}


/*
 * A connection the balancer takes from a keep-alive cache (NGX_DONE) was
 * checked when it was made, perhaps for another location: its ID must
 * match here too.  Declining closes it and tries the next upstream server.
 */

static ngx_int_t
ngx_http_mesh_upstream_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_mesh_upstream_peer_t *mp = data;

    ngx_int_t                  rc;
    ngx_str_t                 *id, none;
    ngx_http_mesh_loc_conf_t  *mlcf;

    rc = mp->get(pc, mp->data);

    if (rc != NGX_DONE || pc->connection == NULL) {
        return rc;
    }

    id = NULL;

    if (pc->connection->ssl) {
        id = SSL_get_ex_data(pc->connection->ssl->connection,
                             ngx_http_mesh_upstream_index);
    }

    mlcf = ngx_http_get_module_loc_conf(mp->request, ngx_http_mesh_module);

    if (id && ngx_http_mesh_upstream_match(mlcf->upstream_ids, id)) {
        return NGX_DONE;
    }

    if (id == NULL) {
        ngx_str_set(&none, "none");
        id = &none;
    }

    ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                  "mesh_upstream_id refused a kept-alive upstream "
                  "connection whose SPIFFE ID \"%V\" does not match", id);

    return NGX_DECLINED;
}


static void
ngx_http_mesh_upstream_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_mesh_upstream_peer_t *mp = data;

    mp->free(pc, mp->data, state);
}


static void
ngx_http_mesh_upstream_notify_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t type)
{
    ngx_http_mesh_upstream_peer_t *mp = data;

    mp->notify(pc, mp->data, type);
}


/* right before the handshake: no resumption, and our verify callback */

static ngx_int_t
ngx_http_mesh_upstream_set_session(ngx_peer_connection_t *pc, void *data)
{
    SSL_set_verify(pc->connection->ssl->connection, SSL_VERIFY_PEER,
                   ngx_http_mesh_upstream_verify);

    return NGX_OK;
}


static void
ngx_http_mesh_upstream_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_mesh_upstream_peer_t *mp = data;

    mp->save_session(pc, mp->data);
}


/*
 * OpenSSL's verdict on the chain at other depths is left for nginx's own
 * proxy_ssl_verify to act on; at depth 0 the leaf must be an SVID verified
 * to our bundle whose ID matches.  A refusal fails the handshake, or, with
 * proxy_ssl_verify on, lets it end and leaves an error in the verify
 * result, which nginx then refuses with a line at [error] rather than a
 * failed handshake at [crit].  The callback may run more than once at
 * depth 0: the first verdict is kept in the SSL object.
 */

static int
ngx_http_mesh_upstream_verify(int ok, X509_STORE_CTX *x509_store)
{
    X509                      *leaf;
    ngx_str_t                 *id;
    ngx_ssl_conn_t            *ssl_conn;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_mesh_peer_t       peer;
    ngx_http_mesh_loc_conf_t  *mlcf;
    ngx_http_mesh_srv_conf_t  *mscf;

    if (X509_STORE_CTX_get_error_depth(x509_store) != 0) {
        return 1;
    }

    ssl_conn = X509_STORE_CTX_get_ex_data(x509_store,
                                          SSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl_conn == NULL) {
        return 0;
    }

    c = ngx_ssl_get_connection(ssl_conn);
    r = c->data;

    id = SSL_get_ex_data(ssl_conn, ngx_http_mesh_upstream_index);

    if (id == &ngx_http_mesh_upstream_refused) {
        goto refused;
    }

    if (id) {
        return 1;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mesh_module);
    mscf = ngx_http_get_module_srv_conf(r, ngx_http_mesh_module);

    leaf = X509_STORE_CTX_get0_cert(x509_store);

    if (ngx_http_mesh_identity_verify(c->pool, leaf,
                                      X509_STORE_CTX_get0_untrusted(x509_store),
                                      mscf->bundles, X509_PURPOSE_SSL_SERVER,
                                      &peer)
        != NGX_OK)
    {
        return 0;
    }

    if (!peer.verified) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "mesh_upstream_id refused the upstream: its "
                      "certificate is no valid SVID: %V", &peer.error);
        goto refuse;
    }

    if (!ngx_http_mesh_upstream_match(mlcf->upstream_ids, &peer.id)) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "mesh_upstream_id refused the upstream: its SPIFFE ID "
                      "\"%V\" does not match", &peer.id);
        goto refuse;
    }

    id = ngx_palloc(c->pool, sizeof(ngx_str_t));
    if (id == NULL) {
        return 0;
    }

    *id = peer.id;

    if (SSL_set_ex_data(ssl_conn, ngx_http_mesh_upstream_index, id) == 0) {
        return 0;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "mesh upstream id: \"%V\"", id);

    return 1;

refuse:

    if (SSL_set_ex_data(ssl_conn, ngx_http_mesh_upstream_index,
                        &ngx_http_mesh_upstream_refused)
        == 0)
    {
        return 0;
    }

refused:

    if (!r->upstream->conf->ssl_verify) {
        return 0;
    }

    X509_STORE_CTX_set_error(x509_store, X509_V_ERR_APPLICATION_VERIFICATION);

    return 1;
}


static ngx_int_t
ngx_http_mesh_upstream_match(ngx_array_t *patterns, ngx_str_t *id)
{
    ngx_str_t       *p;
    ngx_uint_t       i;
    ngx_mesh_str_t   pattern, s;

    s.len = id->len;
    s.data = (const char *) id->data;

    p = patterns->elts;

    for (i = 0; i < patterns->nelts; i++) {
        pattern.len = p[i].len;
        pattern.data = (const char *) p[i].data;

        if (ngx_mesh_spiffe_match(&pattern, &s)) {
            return 1;
        }
    }

    return 0;
}
