
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_METRICS_H_INCLUDED_
#define _NGX_HTTP_APIM_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_apim_metrics_send(ngx_http_request_t *r,
    ngx_uint_t consumer_label);


#endif /* _NGX_HTTP_APIM_METRICS_H_INCLUDED_ */
