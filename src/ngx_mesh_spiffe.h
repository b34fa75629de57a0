
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * SPIFFE IDs: the parser that holds an ID to the SPIFFE-ID and X.509-SVID
 * standards, and the matcher of ID patterns ("spiffe://td/ns/shop/sa/web",
 * "spiffe://td/ns/shop/" followed by a star, or a lone star).  Depends on
 * libc only, so that the module, apimctl and unit tests can all link it.
 */


#ifndef _NGX_MESH_SPIFFE_H_INCLUDED_
#define _NGX_MESH_SPIFFE_H_INCLUDED_


#include <stddef.h>
#include <string.h>


#define NGX_MESH_SPIFFE_SCHEME      "spiffe://"
#define NGX_MESH_SPIFFE_ID_MAX      2048
#define NGX_MESH_SPIFFE_TD_MAX      255


typedef struct {
    size_t              len;
    const char         *data;
} ngx_mesh_str_t;


typedef struct {
    ngx_mesh_str_t      trust_domain;    /* "td" */
    ngx_mesh_str_t      path;            /* "/ns/shop/sa/web" */
} ngx_mesh_spiffe_id_t;


/*
 * Each check returns NULL when its input is valid, or else a short static
 * text saying why not ("a port", "an empty path segment", ...).
 */

const char *ngx_mesh_spiffe_parse(const ngx_mesh_str_t *id,
    ngx_mesh_spiffe_id_t *out);
const char *ngx_mesh_spiffe_check_trust_domain(const ngx_mesh_str_t *td);
const char *ngx_mesh_spiffe_check_pattern(const ngx_mesh_str_t *pattern);

/*
 * 1 when the ID matches the pattern: a lone star matches any ID; a pattern
 * ending in a slash and a star matches every ID below that prefix (not the
 * prefix itself); any other pattern matches only the same ID, byte for
 * byte.  An empty ID matches nothing.  The ID must have passed
 * ngx_mesh_spiffe_parse() and the pattern ngx_mesh_spiffe_check_pattern().
 * Inline: the authorization handler runs it for every rule it tries.
 */

static inline int
ngx_mesh_spiffe_match(const ngx_mesh_str_t *pattern, const ngx_mesh_str_t *id)
{
    size_t  n;

    if (id->len == 0) {
        return 0;
    }

    n = pattern->len;

    if (n == 1 && pattern->data[0] == '*') {
        return 1;
    }

    if (n >= 2 && pattern->data[n - 1] == '*' && pattern->data[n - 2] == '/') {
        n--;
        return id->len > n && memcmp(id->data, pattern->data, n) == 0;
    }

    return id->len == n && memcmp(id->data, pattern->data, n) == 0;
}


#endif /* _NGX_MESH_SPIFFE_H_INCLUDED_ */
