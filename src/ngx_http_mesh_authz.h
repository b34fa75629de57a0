
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_MESH_AUTHZ_H_INCLUDED_
#define _NGX_HTTP_MESH_AUTHZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_store.h"
#include "ngx_mesh_spiffe.h"
#include "ngx_http_apim_plan.h"
#include "ngx_http_mesh.h"


/* mesh_allow, mesh_deny */

typedef struct {
    ngx_array_t                   ids;         /* ngx_mesh_str_t patterns */
    ngx_str_t                     methods;     /* "GET,POST"; empty: any */
    ngx_str_t                     paths;       /* "/a*,/b"; empty: any */
    ngx_uint_t                    deny;
    ngx_str_t                     text;        /* "deny config:2" */
} ngx_http_mesh_rule_t;


/* mesh_limit, or a store edge's rate */

typedef struct {
    ngx_mesh_str_t                pattern;
    ngx_uint_t                    per;         /* NGX_HTTP_MESH_PER_* */
    ngx_uint_t                    from_store;  /* a store edge's, per request */
    ngx_http_apim_plan_t          plan;        /* the rate and its policy */
} ngx_http_mesh_limit_t;


/* what the store's edges of a service say about one request */

typedef struct {
    int64_t                       deny;        /* the first matching deny */
    int64_t                       allow;       /* the first matching allow */
    ngx_uint_t                    any_allow;   /* an allow edge exists */
    ngx_http_mesh_limit_t        *limit;       /* the first matching rate */
} ngx_http_mesh_edges_t;


char *ngx_http_mesh_service_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mesh_rule_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mesh_default_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mesh_limit_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_uint_t ngx_http_mesh_conf_enum(ngx_conf_t *cf, ngx_command_t *cmd,
    const char *choices);
char *ngx_http_mesh_limit_headers_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_mesh_authz_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_mesh_authz_init(ngx_conf_t *cf);

void ngx_http_mesh_rule_used(ngx_conf_t *cf, ngx_command_t *cmd);

/* "service" is the configuration's mesh_service string, not a copy */
ngx_uint_t ngx_http_mesh_edges_none_known(ngx_apim_store_t *st,
    ngx_str_t *service);
ngx_int_t ngx_http_mesh_edges_read(ngx_http_request_t *r,
    ngx_apim_store_t *st, ngx_str_t *service, ngx_mesh_str_t *id,
    ngx_http_mesh_edges_t *edges);

ngx_int_t ngx_http_mesh_limit_policy(ngx_pool_t *pool,
    ngx_http_mesh_limit_t *lim, int64_t rate, int64_t window, int64_t burst);
ngx_int_t ngx_http_mesh_limit_check(ngx_http_request_t *r,
    ngx_shm_zone_t *zone, ngx_http_mesh_limit_t *lim,
    ngx_http_mesh_loc_conf_t *mlcf, ngx_str_t *id, ngx_apim_store_t *st);


#endif /* _NGX_HTTP_MESH_AUTHZ_H_INCLUDED_ */
