
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * SPIFFE IDs: parsing by the rules of the SPIFFE-ID standard as narrowed by
 * X.509-SVID (a leaf's ID has a path), and matching ID patterns.  The
 * parser names the first rule an ID breaks, for the log.
 */


#include <string.h>

#include "ngx_mesh_spiffe.h"


#define NGX_MESH_SPIFFE_SCHEME_LEN  (sizeof(NGX_MESH_SPIFFE_SCHEME) - 1)


static const char *ngx_mesh_spiffe_check_path(const char *p, size_t len);
static const char *ngx_mesh_spiffe_check_char(char ch);


const char *
ngx_mesh_spiffe_parse(const ngx_mesh_str_t *id, ngx_mesh_spiffe_id_t *out)
{
    size_t       n;
    const char  *p, *last, *slash, *err;

    if (id->len > NGX_MESH_SPIFFE_ID_MAX) {
        return "an ID longer than 2048 bytes";
    }

    if (id->len < NGX_MESH_SPIFFE_SCHEME_LEN
        || memcmp(id->data, NGX_MESH_SPIFFE_SCHEME, NGX_MESH_SPIFFE_SCHEME_LEN)
           != 0)
    {
        return "not a spiffe:// URI";
    }

    p = id->data + NGX_MESH_SPIFFE_SCHEME_LEN;
    last = id->data + id->len;

    slash = memchr(p, '/', last - p);
    n = (slash ? slash : last) - p;

    out->trust_domain.data = p;
    out->trust_domain.len = n;

    err = ngx_mesh_spiffe_check_trust_domain(&out->trust_domain);
    if (err) {
        return err;
    }

    if (slash == NULL) {
        return "no path (a root ID)";
    }

    out->path.data = slash;
    out->path.len = last - slash;

    return ngx_mesh_spiffe_check_path(slash, last - slash);
}


const char *
ngx_mesh_spiffe_check_trust_domain(const ngx_mesh_str_t *td)
{
    size_t       i;
    const char  *err;
    char         ch;

    if (td->len == 0) {
        return "an empty trust domain";
    }

    for (i = 0; i < td->len; i++) {
        ch = td->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
            || ch == '.' || ch == '-' || ch == '_')
        {
            continue;
        }

        if (ch >= 'A' && ch <= 'Z') {
            return "an uppercase letter in the trust domain";
        }

        err = ngx_mesh_spiffe_check_char(ch);

        return err ? err : "an invalid character in the trust domain";
    }

    if (td->len > NGX_MESH_SPIFFE_TD_MAX) {
        return "a trust domain longer than 255 bytes";
    }

    return NULL;
}


/* p points to the path's first slash */

static const char *
ngx_mesh_spiffe_check_path(const char *p, size_t len)
{
    size_t       i, seg;
    const char  *err;
    char         ch;

    /* characters first, so that "?x=/" is called a query, not a segment */

    for (i = 0; i < len; i++) {
        ch = p[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9')
            || ch == '.' || ch == '-' || ch == '_' || ch == '/')
        {
            continue;
        }

        err = ngx_mesh_spiffe_check_char(ch);

        return err ? err : "an invalid character in the path";
    }

    if (len == 1) {
        return "a trailing slash";
    }

    seg = 0;

    for (i = 1; i <= len; i++) {

        if (i < len && p[i] != '/') {
            continue;
        }

        /* a segment is p[seg + 1] .. p[i - 1] */

        if (i == seg + 1) {
            return i == len ? "a trailing slash" : "an empty path segment";
        }

        if (i == seg + 2 && p[seg + 1] == '.') {
            return "a \".\" path segment";
        }

        if (i == seg + 3 && p[seg + 1] == '.' && p[seg + 2] == '.') {
            return "a \"..\" path segment";
        }

        seg = i;
    }

    return NULL;
}


/* the URI parts an ID must not have, by the character that starts them */

static const char *
ngx_mesh_spiffe_check_char(char ch)
{
    switch (ch) {

    case '%':
        return "percent-encoding";

    case ':':
        return "a port";

    case '@':
        return "userinfo";

    case '?':
        return "a query";

    case '#':
        return "a fragment";

    default:
        return NULL;
    }
}


const char *
ngx_mesh_spiffe_check_pattern(const ngx_mesh_str_t *pattern)
{
    ngx_mesh_str_t        base;
    ngx_mesh_spiffe_id_t  id;

    if (pattern->len == 1 && pattern->data[0] == '*') {
        return NULL;
    }

    base = *pattern;

    if (base.len >= 2 && memcmp(base.data + base.len - 2, "/*", 2) == 0) {
        base.len -= 2;

        /* "spiffe://td/" and a star: every ID of a trust domain */

        if (base.len > NGX_MESH_SPIFFE_SCHEME_LEN
            && memcmp(base.data, NGX_MESH_SPIFFE_SCHEME,
                      NGX_MESH_SPIFFE_SCHEME_LEN) == 0
            && memchr(base.data + NGX_MESH_SPIFFE_SCHEME_LEN, '/',
                      base.len - NGX_MESH_SPIFFE_SCHEME_LEN) == NULL)
        {
            id.trust_domain.data = base.data + NGX_MESH_SPIFFE_SCHEME_LEN;
            id.trust_domain.len = base.len - NGX_MESH_SPIFFE_SCHEME_LEN;

            return ngx_mesh_spiffe_check_trust_domain(&id.trust_domain);
        }
    }

    return ngx_mesh_spiffe_parse(&base, &id);
}

