
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_PROBLEM_H_INCLUDED_
#define _NGX_HTTP_APIM_PROBLEM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_APIM_PROBLEM_QUOTA                                          \
    "https://iana.org/assignments/http-problem-types#quota-exceeded"


typedef struct {
    ngx_uint_t     status;
    ngx_str_t      type;        /* empty: "about:blank" */
    ngx_str_t      title;
    ngx_str_t      detail;
    ngx_array_t   *violated;    /* of ngx_str_t: "violated-policies" */
} ngx_http_apim_problem_t;


ngx_int_t ngx_http_apim_problem_send(ngx_http_request_t *r,
    ngx_http_apim_problem_t *pr);
ngx_int_t ngx_http_apim_problem_store(ngx_http_request_t *r);
ngx_int_t ngx_http_apim_problem_method(ngx_http_request_t *r, char *detail);
ngx_int_t ngx_http_apim_problem_limit(ngx_http_request_t *r, char *policy,
    ngx_str_t *detail, int64_t retry_after);



#endif /* _NGX_HTTP_APIM_PROBLEM_H_INCLUDED_ */
