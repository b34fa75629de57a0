
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * A stand-in for the peer identity API of the mesh identity work: the
 * SPIFFE ID in the one URI SAN of the client certificate nginx verified
 * (ssl_verify_client and ssl_client_certificate), without the SVID checks
 * of the real one, so that authorization can be built and tested first.
 * mesh_trust_domain and mesh_trust_bundle are taken and ignored, so that
 * the same configurations serve both.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/x509v3.h>

#include "ngx_http_mesh.h"
#include "ngx_http_mesh_peer.h"


static ngx_int_t ngx_http_mesh_peer_read(ngx_http_request_t *r,
    ngx_http_mesh_peer_t *peer);


static ngx_http_mesh_peer_t  ngx_http_mesh_peer_none;


ngx_http_mesh_peer_t *
ngx_http_mesh_peer(ngx_http_request_t *r)
{
    ngx_http_mesh_peer_t      *peer;
    ngx_http_mesh_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mesh_module);

    if (r->connection->ssl == NULL || mlcf->mtls == NGX_HTTP_MESH_MTLS_OFF) {
        return &ngx_http_mesh_peer_none;
    }

    peer = ngx_pcalloc(r->pool, sizeof(ngx_http_mesh_peer_t));
    if (peer == NULL) {
        return NULL;
    }

    if (ngx_http_mesh_peer_read(r, peer) != NGX_OK) {
        return NULL;
    }

    return peer;
}


static ngx_int_t
ngx_http_mesh_peer_read(ngx_http_request_t *r, ngx_http_mesh_peer_t *peer)
{
    int                     i, n, uris;
    u_char                 *p;
    X509                   *cert;
    ngx_str_t               uri;
    GENERAL_NAME           *gn;
    GENERAL_NAMES          *names;
    const unsigned char    *data;

    cert = SSL_get_peer_certificate(r->connection->ssl->connection);

    if (cert == NULL) {
        return NGX_OK;
    }

    if (SSL_get_verify_result(r->connection->ssl->connection) != X509_V_OK) {
        X509_free(cert);
        ngx_str_set(&peer->error, "the certificate is not verified");
        return NGX_OK;
    }

    names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    X509_free(cert);

    uris = 0;
    ngx_str_null(&uri);

    if (names) {
        n = sk_GENERAL_NAME_num(names);

        for (i = 0; i < n; i++) {
            gn = sk_GENERAL_NAME_value(names, i);

            if (gn->type != GEN_URI) {
                continue;
            }

            uris++;
            data = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
            uri.len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
            uri.data = (u_char *) data;
        }
    }

    if (uris != 1 || uri.len <= sizeof("spiffe://") - 1
        || ngx_strncmp(uri.data, "spiffe://", sizeof("spiffe://") - 1) != 0)
    {
        if (names) {
            GENERAL_NAMES_free(names);
        }

        ngx_str_set(&peer->error, "the certificate has no SPIFFE ID");
        return NGX_OK;
    }

    peer->id.data = ngx_pnalloc(r->pool, uri.len);
    if (peer->id.data == NULL) {
        GENERAL_NAMES_free(names);
        return NGX_ERROR;
    }

    peer->id.len = uri.len;
    ngx_memcpy(peer->id.data, uri.data, uri.len);
    GENERAL_NAMES_free(names);

    peer->trust_domain.data = peer->id.data + sizeof("spiffe://") - 1;
    p = ngx_strlchr(peer->trust_domain.data, peer->id.data + peer->id.len,
                    '/');

    if (p == NULL) {
        p = peer->id.data + peer->id.len;
    }

    peer->trust_domain.len = p - peer->trust_domain.data;
    peer->path.data = p;
    peer->path.len = peer->id.data + peer->id.len - p;
    peer->verified = 1;

    return NGX_OK;
}


/* mesh_trust_domain, mesh_trust_bundle: the real identity's directives */

char *
ngx_http_mesh_peer_stand_in(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return NGX_CONF_OK;
}
