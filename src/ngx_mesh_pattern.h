
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The request side of mesh rules, for nginx and for apimctl alike (libc
 * only): request paths (exact, or a prefix with a trailing "*"), HTTP
 * method names, and the comma-separated lists of paths and methods that
 * rules keep.
 */


#ifndef _NGX_MESH_PATTERN_H_INCLUDED_
#define _NGX_MESH_PATTERN_H_INCLUDED_


#include <stddef.h>


#define NGX_MESH_PATH_MAX         1024


int ngx_mesh_path_pattern_valid(const char *p, size_t len);
int ngx_mesh_path_match(const char *pat, size_t plen, const char *path,
    size_t len);
int ngx_mesh_method_valid(const char *p, size_t len);

int ngx_mesh_list_valid(const char *list, size_t len,
    int (*valid)(const char *p, size_t len));
int ngx_mesh_methods_match(const char *list, size_t len, const char *method,
    size_t mlen);
int ngx_mesh_paths_match(const char *list, size_t len, const char *path,
    size_t plen);


#endif /* _NGX_MESH_PATTERN_H_INCLUDED_ */
