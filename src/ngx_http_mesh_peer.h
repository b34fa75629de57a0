
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The peer identity of a request: the SPIFFE ID its TLS connection's client
 * certificate proved, computed once per connection.
 */


#ifndef _NGX_HTTP_MESH_PEER_H_INCLUDED_
#define _NGX_HTTP_MESH_PEER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mesh.h"


typedef struct {
    ngx_str_t    id;            /* "spiffe://td/path"; empty: none */
    ngx_str_t    trust_domain;  /* "td" */
    ngx_str_t    path;          /* "/ns/shop/sa/web" */
    ngx_str_t    error;         /* why not verified, for the log;
                                   empty when verified or no cert */
    time_t       valid_until;   /* verified: the chain's first notAfter;
                                   0 when unknown */
    unsigned     verified:1;    /* an SVID passed every check */
} ngx_http_mesh_peer_t;


/*
 * computed once per TLS connection and cached for the connection's later
 * keep-alive requests; NULL only when memory runs out; with `mesh_mtls off`
 * or plain HTTP: an unverified, empty peer
 */

ngx_http_mesh_peer_t *ngx_http_mesh_peer(ngx_http_request_t *r,
    ngx_http_mesh_loc_conf_t *mlcf);
ngx_http_mesh_peer_t *ngx_http_mesh_peer_check(ngx_http_request_t *r,
    ngx_ssl_conn_t *ssl_conn);
ngx_int_t ngx_http_mesh_peer_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_mesh_peer_strict(ngx_http_request_t *r,
    ngx_http_mesh_loc_conf_t *mlcf, ngx_http_mesh_peer_t *peer);

ngx_int_t ngx_http_mesh_peer_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_mesh_peer_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_MESH_PEER_H_INCLUDED_ */
