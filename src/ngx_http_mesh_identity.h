
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_MESH_IDENTITY_H_INCLUDED_
#define _NGX_HTTP_MESH_IDENTITY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/x509.h>

#include "ngx_http_mesh.h"
#include "ngx_http_mesh_peer.h"


ngx_int_t ngx_http_mesh_identity_verify(ngx_pool_t *pool, X509 *leaf,
    STACK_OF(X509) *chain, ngx_array_t *bundles, int purpose,
    ngx_http_mesh_peer_t *peer);

char *ngx_http_mesh_trust_domain(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mesh_mtls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_mesh_identity_check_srv_conf(ngx_conf_t *cf,
    ngx_http_mesh_srv_conf_t *mscf);
ngx_int_t ngx_http_mesh_identity_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_MESH_IDENTITY_H_INCLUDED_ */
