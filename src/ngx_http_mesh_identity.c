
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * SPIFFE X.509-SVID checks of a peer's certificate: exactly one URI SAN
 * holding a valid SPIFFE ID, a leaf that is no CA and signs nothing, and a
 * chain verified to the trust bundle of the ID's trust domain.  Also the
 * identity directives, and the server side of the handshake: servers with
 * mesh_mtls ask for client certificates and leave their verdict to us.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/x509v3.h>

#include "ngx_mesh_spiffe.h"
#include "ngx_http_mesh.h"
#include "ngx_http_mesh_peer.h"
#include "ngx_http_mesh_identity.h"
#include "ngx_http_mesh_identity_bundle.h"
#include "ngx_http_mesh_identity_upstream.h"


/* how much of a refused ID the log shows */
#define NGX_HTTP_MESH_LOG_ID_MAX  256


static ngx_int_t ngx_http_mesh_identity_refuse(ngx_pool_t *pool,
    ngx_http_mesh_peer_t *peer, const char *reason, ngx_str_t *uri);
static time_t ngx_http_mesh_identity_not_after(STACK_OF(X509) *chain);
static int ngx_http_mesh_identity_accept(int ok, X509_STORE_CTX *ctx);
static ngx_int_t ngx_http_mesh_identity_init_servers(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_mesh_mtls_modes[] = {
    { ngx_string("off"), NGX_HTTP_MESH_MTLS_OFF },
    { ngx_string("permissive"), NGX_HTTP_MESH_MTLS_PERMISSIVE },
    { ngx_string("strict"), NGX_HTTP_MESH_MTLS_STRICT },
    { ngx_null_string, 0 }
};


/*
 * Fills the peer from the leaf certificate; peer->verified is set only when
 * every check passed, else peer->error says why.  NGX_ERROR: no memory.
 */

ngx_int_t
ngx_http_mesh_identity_verify(ngx_pool_t *pool, X509 *leaf,
    STACK_OF(X509) *chain, ngx_array_t *bundles, int purpose,
    ngx_http_mesh_peer_t *peer)
{
    int                       i, n, rc, crit;
    long                      err;
    uint32_t                  ku;
    ngx_str_t                 uri;
    const char               *reason;
    X509_STORE               *store;
    GENERAL_NAME             *gn;
    GENERAL_NAMES            *names;
    ngx_mesh_str_t            s;
    X509_STORE_CTX           *ctx;
    ngx_mesh_spiffe_id_t      id;
    const ASN1_IA5STRING     *ia5;

    ngx_memzero(peer, sizeof(ngx_http_mesh_peer_t));

    /* exactly one URI SAN */

    ngx_str_null(&uri);
    n = 0;

    names = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);

    if (names) {
        for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
            gn = sk_GENERAL_NAME_value(names, i);

            if (gn->type != GEN_URI) {
                continue;
            }

            if (n++ == 0) {
                ia5 = gn->d.uniformResourceIdentifier;
                uri.len = ASN1_STRING_length(ia5);
                uri.data = ngx_pnalloc(pool, uri.len);
                if (uri.data == NULL) {
                    GENERAL_NAMES_free(names);
                    return NGX_ERROR;
                }

                ngx_memcpy(uri.data, ASN1_STRING_get0_data(ia5), uri.len);
            }
        }

        GENERAL_NAMES_free(names);
    }

    if (n == 0) {
        return ngx_http_mesh_identity_refuse(pool, peer, "no URI SAN", NULL);
    }

    if (n > 1) {
        return ngx_http_mesh_identity_refuse(pool, peer,
                                             "more than one URI SAN", NULL);
    }

    /* a valid SPIFFE ID */

    s.len = uri.len;
    s.data = (const char *) uri.data;

    reason = ngx_mesh_spiffe_parse(&s, &id);
    if (reason) {
        return ngx_http_mesh_identity_refuse(pool, peer, reason, &uri);
    }

    /* a leaf: no CA, signs neither certificates nor CRLs */

    if (X509_get_extension_flags(leaf) & EXFLAG_CA) {
        return ngx_http_mesh_identity_refuse(pool, peer,
                                             "a CA certificate", &uri);
    }

    if (X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) {
        ku = X509_get_key_usage(leaf);

        if (ku & KU_KEY_CERT_SIGN) {
            return ngx_http_mesh_identity_refuse(pool, peer,
                                                 "keyUsage keyCertSign", &uri);
        }

        if (ku & KU_CRL_SIGN) {
            return ngx_http_mesh_identity_refuse(pool, peer,
                                                 "keyUsage cRLSign", &uri);
        }
    }

    /* the chain, to the bundle of the ID's own trust domain */

    peer->id = uri;
    peer->trust_domain.len = id.trust_domain.len;
    peer->trust_domain.data = uri.data + (id.trust_domain.data - s.data);
    peer->path.len = id.path.len;
    peer->path.data = uri.data + (id.path.data - s.data);

    store = ngx_http_mesh_bundle_find(bundles, &peer->trust_domain);
    if (store == NULL) {
        return ngx_http_mesh_identity_refuse(pool, peer,
                                      "no mesh_trust_bundle for its trust "
                                      "domain", &uri);
    }

    ctx = X509_STORE_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
        X509_STORE_CTX_free(ctx);
        return NGX_ERROR;
    }

    X509_STORE_CTX_set_purpose(ctx, purpose);

    rc = X509_verify_cert(ctx);
    err = X509_STORE_CTX_get_error(ctx);

    if (rc == 1) {
        peer->valid_until = ngx_http_mesh_identity_not_after(
                                              X509_STORE_CTX_get0_chain(ctx));
    }

    X509_STORE_CTX_free(ctx);

    if (rc != 1) {
        return ngx_http_mesh_identity_refuse(pool, peer,
                                      X509_verify_cert_error_string(err),
                                      &uri);
    }

    peer->verified = 1;

    return NGX_OK;
}


/* the earliest notAfter of a verified chain; 0 when it cannot be read */

static time_t
ngx_http_mesh_identity_not_after(STACK_OF(X509) *chain)
{
    int     i, days, secs;
    time_t  now, t, first;

    now = ngx_time();
    first = 0;

    for (i = 0; chain && i < sk_X509_num(chain); i++) {
        if (ASN1_TIME_diff(&days, &secs, NULL,
                           X509_get0_notAfter(sk_X509_value(chain, i)))
            != 1)
        {
            return 0;
        }

        t = now + (time_t) days * 86400 + secs;

        if (first == 0 || t < first) {
            first = t;
        }
    }

    return first;
}


/* peer->error: the reason, and the ID the certificate had, cut and made
   printable for the log */

static ngx_int_t
ngx_http_mesh_identity_refuse(ngx_pool_t *pool, ngx_http_mesh_peer_t *peer,
    const char *reason, ngx_str_t *uri)
{
    u_char  *p;
    size_t   len, n, i;

    ngx_memzero(peer, sizeof(ngx_http_mesh_peer_t));

    len = ngx_strlen(reason);
    n = 0;

    if (uri) {
        n = ngx_min(uri->len, NGX_HTTP_MESH_LOG_ID_MAX);
        len += sizeof(", SPIFFE ID \"...\"") - 1 + n;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    peer->error.data = p;

    p = ngx_cpymem(p, reason, ngx_strlen(reason));

    if (uri) {
        p = ngx_cpymem(p, ", SPIFFE ID \"", sizeof(", SPIFFE ID \"") - 1);

        for (i = 0; i < n; i++) {
            *p++ = (uri->data[i] < 0x20 || uri->data[i] > 0x7e)
                   ? '?' : uri->data[i];
        }

        if (n < uri->len) {
            p = ngx_cpymem(p, "...", 3);
        }

        *p++ = '"';
    }

    peer->error.len = p - peer->error.data;

    return NGX_OK;
}


char *
ngx_http_mesh_trust_domain(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mesh_srv_conf_t *mscf = conf;

    ngx_str_t       *value;
    const char      *err;
    ngx_mesh_str_t   td;

    if (mscf->trust_domain.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    td.len = value[1].len;
    td.data = (const char *) value[1].data;

    err = ngx_mesh_spiffe_check_trust_domain(&td);
    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid trust domain \"%V\": %s", &value[1], err);
        return NGX_CONF_ERROR;
    }

    mscf->trust_domain = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_mesh_mtls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mesh_loc_conf_t *mlcf = conf;

    ngx_str_t                  *value;
    ngx_conf_enum_t            *e;
    ngx_http_mesh_main_conf_t  *mmcf;

    if (mlcf->mtls != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = ngx_http_mesh_mtls_modes; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcmp(e->name.data, value[1].data) == 0)
        {
            break;
        }
    }

    if (e->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be \"off\", \"permissive\" or \"strict\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    mlcf->mtls = e->value;

    if (mlcf->mtls != NGX_HTTP_MESH_MTLS_OFF) {
        mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mesh_module);
        mmcf->requires_identity = 1;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_mesh_identity_check_srv_conf(ngx_conf_t *cf,
    ngx_http_mesh_srv_conf_t *mscf)
{
    if (mscf->trust_domain.len
        && ngx_http_mesh_bundle_find(mscf->bundles, &mscf->trust_domain)
           == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"mesh_trust_bundle\" for the trust domain "
                           "\"%V\" of \"mesh_trust_domain\"",
                           &mscf->trust_domain);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_mesh_identity_init(ngx_conf_t *cf)
{
    ngx_http_mesh_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mesh_module);

    if (mmcf->requires_identity) {
        if (ngx_http_mesh_identity_init_servers(cf) != NGX_OK
            || ngx_http_mesh_peer_init(cf) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (mmcf->requires_upstream_id) {
        if (ngx_http_mesh_upstream_id_init(cf) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A TLS server whose mesh_mtls is not off asks for a client certificate.
 * With "ssl_verify_client off" (the way meant here) OpenSSL's verdict is
 * kept for $ssl_client_verify but never fails the handshake: the SVID
 * checks above decide, per request, with the answer the mode gives.  Other
 * ssl_verify_client values keep nginx's own verification in front.
 */

static ngx_int_t
ngx_http_mesh_identity_init_servers(ngx_conf_t *cf)
{
    ngx_uint_t                  s;
    ngx_http_ssl_srv_conf_t    *sscf;
    ngx_http_mesh_loc_conf_t   *mlcf;
    ngx_http_mesh_srv_conf_t   *mscf;
    ngx_http_core_srv_conf_t  **cscfp;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    cscfp = cmcf->servers.elts;

    for (s = 0; s < cmcf->servers.nelts; s++) {
        mlcf = cscfp[s]->ctx->loc_conf[ngx_http_mesh_module.ctx_index];
        mscf = cscfp[s]->ctx->srv_conf[ngx_http_mesh_module.ctx_index];

        if (mlcf->mtls == NGX_HTTP_MESH_MTLS_OFF) {
            continue;
        }

        if (mscf->bundles == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"mesh_mtls\" needs \"mesh_trust_bundle\" "
                          "in the server in %s:%ui",
                          cscfp[s]->file_name, cscfp[s]->line);
            return NGX_ERROR;
        }

        sscf = cscfp[s]->ctx->srv_conf[ngx_http_ssl_module.ctx_index];

        if (sscf->ssl.ctx == NULL || sscf->verify != 0) {
            continue;
        }

        SSL_CTX_set_verify(sscf->ssl.ctx, SSL_VERIFY_PEER,
                           ngx_http_mesh_identity_accept);
    }

    return NGX_OK;
}


static int
ngx_http_mesh_identity_accept(int ok, X509_STORE_CTX *ctx)
{
    return 1;
}
