
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The admin API's lists, one page at a time: limit= (1 to 1000, default
 * 100) and cursor= (the last key of the page before, base64url) in, and
 * {"items": [...], "next_cursor": "..." or null} out.  A list walks its
 * sub-database from the cursor with ngx_apim_store_iterate(); its item
 * handler asks here whether a key is the cursor itself, whether the page
 * is full, and records each key it writes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_admin.h"


/*
 * The page's arguments, then the answer up to the items' array:
 * NGX_OK; NGX_DECLINED with the detail of the 400; NGX_ERROR.
 */

ngx_int_t
ngx_http_apim_admin_page_open(ngx_http_request_t *r,
    ngx_http_apim_admin_page_t *page, ngx_str_t *detail)
{
    ngx_int_t  n;
    ngx_str_t  v;

    ngx_memzero(page, sizeof(ngx_http_apim_admin_page_t));

    page->r = r;
    page->limit = NGX_HTTP_APIM_ADMIN_PAGE;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &v) == NGX_OK) {
        n = ngx_atoi(v.data, v.len);

        if (n < 1 || n > NGX_HTTP_APIM_ADMIN_PAGE_MAX) {
            ngx_str_set(detail, "\"limit\" must be an integer from 1 to "
                                "1000");
            return NGX_DECLINED;
        }

        page->limit = n;
    }

    if (ngx_http_arg(r, (u_char *) "cursor", 6, &v) == NGX_OK) {
        page->after.data = ngx_pnalloc(r->pool,
                                       ngx_base64_decoded_length(v.len));
        if (page->after.data == NULL) {
            return NGX_ERROR;
        }

        if (v.len == 0 || ngx_decode_base64url(&page->after, &v) != NGX_OK
            || !ngx_apim_name_valid((char *) page->after.data,
                                    page->after.len))
        {
            ngx_str_set(detail, "\"cursor\" is not a cursor this API "
                                "returned");
            return NGX_DECLINED;
        }
    }

    page->g = ngx_http_apim_json_gen(r->pool);

    if (page->g == NULL
        || yajl_gen_map_open(page->g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(page->g, "items") != NGX_OK
        || yajl_gen_array_open(page->g) != yajl_gen_status_ok)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the walk starts at the cursor: the key the page before ended with */

ngx_uint_t
ngx_http_apim_admin_page_cursor(ngx_http_apim_admin_page_t *page,
    const ngx_apim_val_t *key)
{
    return page->after.len
           && ngx_memn2cmp((u_char *) key->data, page->after.data, key->len,
                           page->after.len)
              == 0;
}


/* one item more than the page holds: there is a next page */

ngx_uint_t
ngx_http_apim_admin_page_full(ngx_http_apim_admin_page_t *page)
{
    if (page->n == page->limit) {
        page->more = 1;
        return 1;
    }

    return 0;
}


/* an item written: its key, copied out of the map, may end the page */

ngx_int_t
ngx_http_apim_admin_page_item(ngx_http_apim_admin_page_t *page,
    const ngx_apim_val_t *key)
{
    page->last.data = ngx_pnalloc(page->r->pool, key->len);
    if (page->last.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(page->last.data, key->data, key->len);
    page->last.len = key->len;
    page->n++;

    return NGX_OK;
}


/* the rest of the answer, with the next page's cursor, sent */

ngx_int_t
ngx_http_apim_admin_page_send(ngx_http_apim_admin_page_t *page)
{
    yajl_gen   g;
    ngx_str_t  cursor;

    g = page->g;

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || ngx_http_apim_json_key(g, "next_cursor") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (page->more) {
        cursor.data = ngx_pnalloc(page->r->pool,
                                  ngx_base64_encoded_length(page->last.len));
        if (cursor.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_encode_base64url(&cursor, &page->last);

        if (yajl_gen_string(g, cursor.data, cursor.len)
            != yajl_gen_status_ok)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (yajl_gen_null(g) != yajl_gen_status_ok) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (yajl_gen_map_close(g) != yajl_gen_status_ok) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_apim_admin_send(page->r, NGX_HTTP_OK, g);
}
