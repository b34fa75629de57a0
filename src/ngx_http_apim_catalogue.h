
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_CATALOGUE_H_INCLUDED_
#define _NGX_HTTP_APIM_CATALOGUE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_apim_window.h"
#include "ngx_http_apim_lookup.h"


#define NGX_HTTP_APIM_API_PUBLIC      0
#define NGX_HTTP_APIM_API_PRIVATE     1

#define NGX_HTTP_APIM_SUNSET_GONE     0    /* 410 past the sunset */
#define NGX_HTTP_APIM_SUNSET_PASS     1

#define NGX_HTTP_APIM_STATE_ACTIVE      0
#define NGX_HTTP_APIM_STATE_DEPRECATED  1
#define NGX_HTTP_APIM_STATE_SUNSET      2

/* "2026-11-26T12:00:00Z" */
#define NGX_HTTP_APIM_TIME_LEN        (sizeof("1970-01-01T00:00:00Z") - 1)


typedef struct {
    ngx_str_t                 name;
    ngx_str_t                 version;
    ngx_str_t                 title;
    ngx_str_t                 description;
    ngx_str_t                 docs;          /* a URL, or a file's path */
    ngx_str_t                 docs_body;     /* the file; empty: a URL */
    ngx_str_t                 docs_type;     /* the file's Content-Type */
    ngx_str_t                 owner;
    ngx_array_t              *tags;          /* of ngx_str_t */
    ngx_array_t               paths;         /* of ngx_str_t */
    ngx_uint_t                visibility;
    ngx_uint_t                sunset_action;
    time_t                    deprecated;    /* 0: not deprecated */
    time_t                    sunset;        /* 0: no sunset */
    ngx_str_t                 deprecation_header;  /* "@1767225600" */
    ngx_str_t                 sunset_header;       /* an HTTP-date */
} ngx_http_apim_api_t;


typedef struct {
    ngx_array_t               apis;          /* of ngx_http_apim_api_t * */
    ngx_array_t               catalogues;    /* of ngx_str_t: locations */
    ngx_array_t               usages;        /* of ngx_str_t: locations */
    ngx_array_t               portals;       /* of portal configurations */
    ngx_uint_t                lifecycle;     /* an API has a date */
} ngx_http_apim_catalogue_t;


ngx_int_t ngx_http_apim_catalogue_init(ngx_conf_t *cf,
    ngx_http_apim_catalogue_t *cat);
char *ngx_http_apim_api_parse(ngx_conf_t *cf, ngx_http_apim_catalogue_t *cat,
    ngx_http_apim_api_t **api);
ngx_int_t ngx_http_apim_catalogue_finalize(ngx_conf_t *cf,
    ngx_http_apim_catalogue_t *cat);
ngx_uint_t ngx_http_apim_api_state(ngx_http_apim_api_t *api, time_t now);

ngx_int_t ngx_http_apim_catalogue_docs(ngx_http_request_t *r,
    ngx_http_apim_catalogue_t *cat);
ngx_int_t ngx_http_apim_catalogue_send(ngx_http_request_t *r,
    ngx_http_apim_catalogue_t *cat, ngx_array_t *plans,
    ngx_http_apim_lookup_t *lk);
ngx_int_t ngx_http_apim_json_window(yajl_gen g, ngx_apim_period_t *p);
ngx_int_t ngx_http_apim_json_time(yajl_gen g, const char *name, time_t t);
ngx_int_t ngx_http_apim_sunset_apply(ngx_http_request_t *r,
    ngx_http_apim_api_t *api);

ngx_int_t ngx_http_apim_time_parse(u_char *p, size_t len, time_t *t);
u_char *ngx_http_apim_time_format(u_char *buf, time_t t);


#endif /* _NGX_HTTP_APIM_CATALOGUE_H_INCLUDED_ */
