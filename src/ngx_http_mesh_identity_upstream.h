
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_MESH_IDENTITY_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_MESH_IDENTITY_UPSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


char *ngx_http_mesh_upstream_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_mesh_upstream_id_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_MESH_IDENTITY_UPSTREAM_H_INCLUDED_ */
