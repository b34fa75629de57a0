
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Mesh rule patterns: checking them when a rule is written (nginx -t,
 * apimctl) and matching them on the request path.  A caller pattern is
 * checked against the SPIFFE ID grammar (the trust domain's and the path
 * segments' characters, no empty, "." or ".." segment), so that a rule can
 * never name an ID that no verified certificate carries.
 */


#include <string.h>

#include "ngx_mesh_pattern.h"


static int ngx_mesh_td_char(int c);
static int ngx_mesh_segment_char(int c);


static const char  *ngx_mesh_methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "MKCOL", "COPY", "MOVE",
    "OPTIONS", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "PATCH", "TRACE",
    "CONNECT", NULL
};


/*
 * "*"; "spiffe://<td>/<seg>/.../<seg>" (a non-root path); or
 * "spiffe://<td>[/<seg>...]" + "/" + "*", every ID under that prefix
 */

int
ngx_mesh_id_pattern_valid(const char *p, size_t len)
{
    size_t       n, seg;
    const char  *last, *td;

    if (len == 1 && p[0] == '*') {
        return 1;
    }

    if (len > NGX_MESH_ID_MAX || len < sizeof("spiffe://") - 1
        || memcmp(p, "spiffe://", sizeof("spiffe://") - 1) != 0)
    {
        return 0;
    }

    last = p + len;
    p += sizeof("spiffe://") - 1;

    for (td = p; p < last && *p != '/'; p++) {
        if (!ngx_mesh_td_char((unsigned char) *p)) {
            return 0;
        }
    }

    n = p - td;

    if (n == 0 || n > NGX_MESH_TD_MAX || p == last) {
        return 0;
    }

    /* p is at "/": the path's segments, the last one may be "*" */

    seg = 0;

    while (p < last) {
        p++;                                   /* "/" */

        if (last - p == 1 && *p == '*') {
            return 1;
        }

        for (n = 0; p < last && *p != '/'; p++, n++) {
            if (!ngx_mesh_segment_char((unsigned char) *p)) {
                return 0;
            }
        }

        if (n == 0 || (n == 1 && p[-1] == '.')
            || (n == 2 && p[-1] == '.' && p[-2] == '.'))
        {
            return 0;
        }

        seg++;
    }

    return seg > 0;
}


/* the caller is verified: its ID is never empty */

int
ngx_mesh_id_match(const char *pat, size_t plen, const char *id, size_t len)
{
    if (len == 0) {
        return 0;
    }

    if (pat[plen - 1] == '*') {
        plen--;
        return plen == 0 || (len > plen && memcmp(pat, id, plen) == 0);
    }

    return plen == len && memcmp(pat, id, len) == 0;
}


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


static int
ngx_mesh_td_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '.' || c == '_' || c == '-';
}


static int
ngx_mesh_segment_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}
