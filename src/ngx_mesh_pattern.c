
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The request side of mesh rules: paths and methods, checked when a rule
 * is written (nginx -t, apimctl) and matched on the request path.  Caller
 * patterns are SPIFFE ID patterns (ngx_mesh_spiffe.c).
 */


#include <string.h>

#include "ngx_mesh_pattern.h"


static const char  *ngx_mesh_methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "MKCOL", "COPY", "MOVE",
    "OPTIONS", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "PATCH", "TRACE",
    "CONNECT", NULL
};


/* "/a/b" or "/a/" + "*": printable, no spaces or commas, "*" only at the end */

int
ngx_mesh_path_pattern_valid(const char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_MESH_PATH_MAX || p[0] != '/') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == ','
            || (p[i] == '*' && i != len - 1))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_mesh_path_match(const char *pat, size_t plen, const char *path,
    size_t len)
{
    if (pat[plen - 1] == '*') {
        plen--;
        return len >= plen && memcmp(pat, path, plen) == 0;
    }

    return plen == len && memcmp(pat, path, len) == 0;
}


int
ngx_mesh_method_valid(const char *p, size_t len)
{
    const char  **m;

    for (m = ngx_mesh_methods; *m; m++) {
        if (strlen(*m) == len && memcmp(*m, p, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* "a,b,c": no empty item, each one valid */

int
ngx_mesh_list_valid(const char *list, size_t len,
    int (*valid)(const char *p, size_t len))
{
    const char  *p, *last, *comma;

    p = list;
    last = list + len;

    for ( ;; ) {
        comma = memchr(p, ',', last - p);

        if (comma == NULL) {
            comma = last;
        }

        if (!valid(p, comma - p)) {
            return 0;
        }

        if (comma == last) {
            return 1;
        }

        p = comma + 1;
    }
}


/* an empty list: any method */

int
ngx_mesh_methods_match(const char *list, size_t len, const char *method,
    size_t mlen)
{
    const char  *p, *last, *comma;

    if (len == 0) {
        return 1;
    }

    p = list;
    last = list + len;

    while (p < last) {
        comma = memchr(p, ',', last - p);

        if (comma == NULL) {
            comma = last;
        }

        if ((size_t) (comma - p) == mlen && memcmp(p, method, mlen) == 0) {
            return 1;
        }

        p = comma + 1;
    }

    return 0;
}


/* an empty list: any path */

int
ngx_mesh_paths_match(const char *list, size_t len, const char *path,
    size_t plen)
{
    const char  *p, *last, *comma;

    if (len == 0) {
        return 1;
    }

    p = list;
    last = list + len;

    while (p < last) {
        comma = memchr(p, ',', last - p);

        if (comma == NULL) {
            comma = last;
        }

        if (comma > p && ngx_mesh_path_match(p, comma - p, path, plen)) {
            return 1;
        }

        p = comma + 1;
    }

    return 0;
}
