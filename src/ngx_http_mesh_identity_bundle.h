
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_MESH_IDENTITY_BUNDLE_H_INCLUDED_
#define _NGX_HTTP_MESH_IDENTITY_BUNDLE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/x509.h>


char *ngx_http_mesh_trust_bundle(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
X509_STORE *ngx_http_mesh_bundle_find(ngx_array_t *bundles,
    ngx_str_t *trust_domain);


#endif /* _NGX_HTTP_MESH_IDENTITY_BUNDLE_H_INCLUDED_ */
