
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_STATUS_H_INCLUDED_
#define _NGX_HTTP_APIM_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_apim_status_send(ngx_http_request_t *r, ngx_str_t *path,
    size_t max_size);


#endif /* _NGX_HTTP_APIM_STATUS_H_INCLUDED_ */
