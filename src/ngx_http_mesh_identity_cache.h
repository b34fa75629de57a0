
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * A worker's memory of the client certificates it verified as X.509-SVIDs
 * (src/ngx_http_mesh_identity_cache.c).
 */


#ifndef _NGX_HTTP_MESH_IDENTITY_CACHE_H_INCLUDED_
#define _NGX_HTTP_MESH_IDENTITY_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/x509.h>

#include "ngx_http_mesh_peer.h"


#define NGX_HTTP_MESH_SVID_KEY_LEN  32          /* SHA-256 */


void ngx_http_mesh_svid_cache_reset(void);
ngx_int_t ngx_http_mesh_svid_cache_key(X509 *leaf, STACK_OF(X509) *chain,
    u_char *key);
ngx_int_t ngx_http_mesh_svid_cache_get(ngx_pool_t *pool, u_char *key,
    ngx_array_t *bundles, ngx_http_mesh_peer_t *peer);
void ngx_http_mesh_svid_cache_put(u_char *key, ngx_array_t *bundles,
    ngx_http_mesh_peer_t *peer);


#endif /* _NGX_HTTP_MESH_IDENTITY_CACHE_H_INCLUDED_ */
