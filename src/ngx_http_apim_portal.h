
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_PORTAL_H_INCLUDED_
#define _NGX_HTTP_APIM_PORTAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct {
    ngx_str_t                 catalogue;   /* the catalogue's URI */
    ngx_str_t                 usage;       /* the usage endpoint's URI */
    ngx_str_t                 title;
    ngx_str_t                 page;        /* the whole page, built once */
    ngx_str_t                 csp;         /* Content-Security-Policy */
    ngx_str_t                 file;        /* where the directive is */
    ngx_uint_t                line;
} ngx_http_apim_portal_t;


char *ngx_http_apim_portal_parse(ngx_conf_t *cf, ngx_http_apim_portal_t *pt);
ngx_int_t ngx_http_apim_portal_build(ngx_conf_t *cf,
    ngx_http_apim_portal_t *pt, ngx_array_t *catalogues,
    ngx_array_t *usages);
ngx_int_t ngx_http_apim_portal_send(ngx_http_request_t *r,
    ngx_http_apim_portal_t *pt);


#endif /* _NGX_HTTP_APIM_PORTAL_H_INCLUDED_ */
