
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_USAGE_H_INCLUDED_
#define _NGX_HTTP_APIM_USAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_lookup.h"


ngx_int_t ngx_http_apim_usage_send(ngx_http_request_t *r,
    ngx_shm_zone_t *zone, ngx_http_apim_lookup_t *lk);


#endif /* _NGX_HTTP_APIM_USAGE_H_INCLUDED_ */
