
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * An API's lifecycle on the request path: a deprecated API answers with
 * "Deprecation: @<seconds>" (RFC 9745) and its sunset date with
 * "Sunset: <HTTP-date>" (RFC 8594); past its sunset the API is gone, 410
 * with a problem body, unless its apim_api says sunset_action=pass.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_apim_catalogue.h"


#define NGX_HTTP_APIM_GONE  410     /* nginx has no name for it */


static ngx_uint_t ngx_http_apim_sunset_sent(ngx_http_request_t *r);


/* NGX_DECLINED: on with the request; else the response was sent */

ngx_int_t
ngx_http_apim_sunset_apply(ngx_http_request_t *r, ngx_http_apim_api_t *api)
{
    u_char                   *p;
    ngx_http_apim_problem_t   pr;

    /* once a request: an internal redirect comes back here */

    if (r != r->main || (r->internal && ngx_http_apim_sunset_sent(r))) {
        return NGX_DECLINED;
    }

    if (api->deprecation_header.len
        && ngx_http_apim_header_out(r, "Deprecation",
                                    api->deprecation_header.data,
                                    api->deprecation_header.len)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (api->sunset_header.len
        && ngx_http_apim_header_out(r, "Sunset", api->sunset_header.data,
                                    api->sunset_header.len)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (api->sunset == 0
        || ngx_time() < api->sunset
        || api->sunset_action == NGX_HTTP_APIM_SUNSET_PASS)
    {
        return NGX_DECLINED;
    }

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    pr.status = NGX_HTTP_APIM_GONE;
    ngx_str_set(&pr.title, "Gone");

    p = ngx_pnalloc(r->pool, api->name.len + api->sunset_header.len + 64);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pr.detail.data = p;
    pr.detail.len = ngx_sprintf(p, "The API \"%V\" was retired on %V.",
                                &api->name, &api->sunset_header)
                    - p;

    return ngx_http_apim_problem_send(r, &pr);
}


static ngx_uint_t
ngx_http_apim_sunset_sent(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash
            && ((h[i].key.len == 6
                 && ngx_strncasecmp(h[i].key.data, (u_char *) "Sunset", 6)
                    == 0)
                || (h[i].key.len == 11
                    && ngx_strncasecmp(h[i].key.data,
                                       (u_char *) "Deprecation", 11)
                       == 0)))
        {
            return 1;
        }
    }
}
