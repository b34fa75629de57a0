
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The catalogue of APIs, built while nginx reads its configuration: each
 * "apim_api" describes an API (version, title, docs, owner, tags,
 * visibility, deprecation and sunset dates) and the location it is served
 * on; the same name in several locations is one API at several paths.
 * Also the RFC 3339 times the catalogue reads and writes.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_key.h"
#include "ngx_http_apim_catalogue.h"


#define NGX_HTTP_APIM_TEXT_MAX     256
#define NGX_HTTP_APIM_DESC_MAX     4096
#define NGX_HTTP_APIM_DOCS_MAX     (4 * 1024 * 1024)


typedef struct {
    ngx_str_t                 ext;
    ngx_str_t                 type;
} ngx_http_apim_docs_type_t;


static char *ngx_http_apim_api_param(ngx_conf_t *cf, ngx_http_apim_api_t *a,
    ngx_str_t *param);
static ngx_int_t ngx_http_apim_api_text(ngx_conf_t *cf, ngx_str_t *param,
    ngx_str_t *v, size_t max, ngx_str_t *to);
static char *ngx_http_apim_api_tags(ngx_conf_t *cf, ngx_http_apim_api_t *a,
    ngx_str_t *param, ngx_str_t *v);
static char *ngx_http_apim_api_docs(ngx_conf_t *cf, ngx_http_apim_api_t *a,
    ngx_str_t *param, ngx_str_t *v);
static char *ngx_http_apim_api_merge(ngx_conf_t *cf, ngx_http_apim_api_t *to,
    ngx_http_apim_api_t *from);
static ngx_int_t ngx_http_apim_api_path(ngx_conf_t *cf,
    ngx_http_apim_api_t *a);
static ngx_int_t ngx_http_apim_time_int(u_char *p, size_t len);


static ngx_http_apim_docs_type_t  ngx_http_apim_docs_types[] = {
    { ngx_string(".json"), ngx_string("application/json") },
    { ngx_string(".yaml"), ngx_string("application/yaml") },
    { ngx_string(".yml"), ngx_string("application/yaml") },
    { ngx_string(".html"), ngx_string("text/html; charset=utf-8") },
    { ngx_string(".md"), ngx_string("text/markdown; charset=utf-8") },
    { ngx_null_string, ngx_string("text/plain; charset=utf-8") }
};


ngx_int_t
ngx_http_apim_catalogue_init(ngx_conf_t *cf, ngx_http_apim_catalogue_t *cat)
{
    if (ngx_array_init(&cat->apis, cf->pool, 4,
                       sizeof(ngx_http_apim_api_t *))
        != NGX_OK
        || ngx_array_init(&cat->catalogues, cf->pool, 1, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&cat->usages, cf->pool, 1, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&cat->portals, cf->pool, 1, sizeof(void *))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    cat->lifecycle = 0;

    return NGX_OK;
}


/* apim_api <name> [version=] [title=] ... [sunset=] [sunset_action=] */

char *
ngx_http_apim_api_parse(ngx_conf_t *cf, ngx_http_apim_catalogue_t *cat,
    ngx_http_apim_api_t **api)
{
    u_char                 dep[NGX_HTTP_APIM_TIME_LEN];
    u_char                 sun[NGX_HTTP_APIM_TIME_LEN];
    char                  *rv;
    ngx_str_t             *value;
    ngx_uint_t             i;
    ngx_http_apim_api_t   *a, **ap;

    value = cf->args->elts;

    if (!ngx_apim_name_valid((char *) value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid API name \"%V\": use 1 to 64 of "
                           "A-Z a-z 0-9 . _ -", &value[1]);
        return NGX_CONF_ERROR;
    }

    a = ngx_pcalloc(cf->pool, sizeof(ngx_http_apim_api_t));
    if (a == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     a->version = a->title = a->description = { 0, NULL };
     *     a->docs = a->docs_body = a->docs_type = a->owner = { 0, NULL };
     *     a->tags = NULL;
     */

    a->name = value[1];
    a->visibility = NGX_CONF_UNSET_UINT;
    a->sunset_action = NGX_CONF_UNSET_UINT;
    a->deprecated = NGX_CONF_UNSET;
    a->sunset = NGX_CONF_UNSET;

    if (ngx_array_init(&a->paths, cf->pool, 2, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_http_apim_api_param(cf, a, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    /* the same name again: one API, served at one more path */

    ap = cat->apis.elts;

    for (i = 0; i < cat->apis.nelts; i++) {
        if (ap[i]->name.len == a->name.len
            && ngx_strncmp(ap[i]->name.data, a->name.data, a->name.len) == 0)
        {
            rv = ngx_http_apim_api_merge(cf, ap[i], a);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            a = ap[i];
            goto path;
        }
    }

    ap = ngx_array_push(&cat->apis);
    if (ap == NULL) {
        return NGX_CONF_ERROR;
    }

    *ap = a;

path:

    if (a->deprecated != NGX_CONF_UNSET && a->sunset != NGX_CONF_UNSET
        && a->sunset < a->deprecated)
    {
        ngx_http_apim_time_format(dep, a->deprecated);
        ngx_http_apim_time_format(sun, a->sunset);

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apim_api \"%V\": \"sunset=%*s\" is before "
                           "\"deprecated=%*s\"", &a->name,
                           NGX_HTTP_APIM_TIME_LEN, sun,
                           NGX_HTTP_APIM_TIME_LEN, dep);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_apim_api_path(cf, a) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    *api = a;

    return NGX_CONF_OK;
}


static char *
ngx_http_apim_api_param(ngx_conf_t *cf, ngx_http_apim_api_t *a,
    ngx_str_t *param)
{
    u_char     *eq;
    time_t      t, *tp;
    ngx_str_t   k, v;

    eq = ngx_strlchr(param->data, param->data + param->len, '=');

    if (eq == NULL) {
        goto invalid;
    }

    k.data = param->data;
    k.len = eq - param->data;
    v.data = eq + 1;
    v.len = param->data + param->len - v.data;

    /* title="Orders API" written as one word */

    if (v.len >= 2 && v.data[0] == '"' && v.data[v.len - 1] == '"') {
        v.data++;
        v.len -= 2;
    }

#define ngx_http_apim_key_is(s)                                              \
    (k.len == sizeof(s) - 1 && ngx_strncmp(k.data, s, k.len) == 0)

    if (ngx_http_apim_key_is("version")) {
        if (a->version.data) {
            goto duplicate;
        }

        if (!ngx_apim_name_valid((char *) v.data, v.len)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": a version is 1 to "
                               "64 of A-Z a-z 0-9 . _ -", param);
            return NGX_CONF_ERROR;
        }

        a->version = v;
        return NGX_CONF_OK;
    }

    if (ngx_http_apim_key_is("title")) {
        if (a->title.data) {
            goto duplicate;
        }

        return ngx_http_apim_api_text(cf, param, &v, NGX_HTTP_APIM_TEXT_MAX,
                                      &a->title) == NGX_OK
               ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_http_apim_key_is("description")) {
        if (a->description.data) {
            goto duplicate;
        }

        return ngx_http_apim_api_text(cf, param, &v, NGX_HTTP_APIM_DESC_MAX,
                                      &a->description) == NGX_OK
               ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_http_apim_key_is("owner")) {
        if (a->owner.data) {
            goto duplicate;
        }

        return ngx_http_apim_api_text(cf, param, &v, NGX_HTTP_APIM_TEXT_MAX,
                                      &a->owner) == NGX_OK
               ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_http_apim_key_is("docs")) {
        if (a->docs.data) {
            goto duplicate;
        }

        return ngx_http_apim_api_docs(cf, a, param, &v);
    }

    if (ngx_http_apim_key_is("tags")) {
        if (a->tags) {
            goto duplicate;
        }

        return ngx_http_apim_api_tags(cf, a, param, &v);
    }

    if (ngx_http_apim_key_is("visibility")) {
        if (a->visibility != NGX_CONF_UNSET_UINT) {
            goto duplicate;
        }

        if (v.len == 6 && ngx_strncmp(v.data, "public", 6) == 0) {
            a->visibility = NGX_HTTP_APIM_API_PUBLIC;

        } else if (v.len == 7 && ngx_strncmp(v.data, "private", 7) == 0) {
            a->visibility = NGX_HTTP_APIM_API_PRIVATE;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", it must be "
                               "\"visibility=public\" or "
                               "\"visibility=private\"", param);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_http_apim_key_is("sunset_action")) {
        if (a->sunset_action != NGX_CONF_UNSET_UINT) {
            goto duplicate;
        }

        if (v.len == 3 && ngx_strncmp(v.data, "410", 3) == 0) {
            a->sunset_action = NGX_HTTP_APIM_SUNSET_GONE;

        } else if (v.len == 4 && ngx_strncmp(v.data, "pass", 4) == 0) {
            a->sunset_action = NGX_HTTP_APIM_SUNSET_PASS;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", it must be "
                               "\"sunset_action=410\" or "
                               "\"sunset_action=pass\"", param);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_http_apim_key_is("deprecated") || ngx_http_apim_key_is("sunset")) {
        tp = (k.len == 6) ? &a->sunset : &a->deprecated;

        if (*tp != NGX_CONF_UNSET) {
            goto duplicate;
        }

        if (ngx_http_apim_time_parse(v.data, v.len, &t) != NGX_OK || t <= 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": not an RFC 3339 "
                               "date such as \"2026-06-30T00:00:00Z\"",
                               param);
            return NGX_CONF_ERROR;
        }

        *tp = t;
        return NGX_CONF_OK;
    }

#undef ngx_http_apim_key_is

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       param);
    return NGX_CONF_ERROR;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate parameter \"%V\"",
                       param);
    return NGX_CONF_ERROR;
}


/* free text: no control characters, at most "max" bytes */

static ngx_int_t
ngx_http_apim_api_text(ngx_conf_t *cf, ngx_str_t *param, ngx_str_t *v,
    size_t max, ngx_str_t *to)
{
    size_t  i;

    if (v->len == 0 || v->len > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": 1 to %uz bytes",
                           param, max);
        return NGX_ERROR;
    }

    for (i = 0; i < v->len; i++) {
        if (v->data[i] < 0x20 || v->data[i] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": control "
                               "characters", param);
            return NGX_ERROR;
        }
    }

    *to = *v;

    return NGX_OK;
}


/* tags=<tag>,<tag>... */

static char *
ngx_http_apim_api_tags(ngx_conf_t *cf, ngx_http_apim_api_t *a,
    ngx_str_t *param, ngx_str_t *v)
{
    u_char     *p, *last, *comma;
    ngx_str_t  *tag;

    a->tags = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (a->tags == NULL) {
        return NGX_CONF_ERROR;
    }

    p = v->data;
    last = v->data + v->len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        if (!ngx_apim_name_valid((char *) p, comma - p)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": a tag is 1 to 64 "
                               "of A-Z a-z 0-9 . _ -", param);
            return NGX_CONF_ERROR;
        }

        tag = ngx_array_push(a->tags);
        if (tag == NULL) {
            return NGX_CONF_ERROR;
        }

        tag->data = p;
        tag->len = comma - p;

        if (comma == last) {
            return NGX_CONF_OK;
        }

        p = comma + 1;
    }
}


/*
 * docs=<http(s) URL>, linked to as it is; anything else is a file,
 * relative to the configuration's directory, read now: a file missing
 * or unreadable fails "nginx -t", and no request ever waits on the disk.
 */

static char *
ngx_http_apim_api_docs(ngx_conf_t *cf, ngx_http_apim_api_t *a,
    ngx_str_t *param, ngx_str_t *v)
{
    u_char                     *buf;
    size_t                      n;
    ssize_t                     got;
    ngx_fd_t                    fd;
    ngx_str_t                   path;
    ngx_file_info_t             fi;
    ngx_http_apim_docs_type_t  *dt;

    if (v->len == 0) {
        goto invalid;
    }

    a->docs = *v;

    if ((v->len > 7 && ngx_strncasecmp(v->data, (u_char *) "http://", 7) == 0)
        || (v->len > 8
            && ngx_strncasecmp(v->data, (u_char *) "https://", 8) == 0))
    {
        return ngx_http_apim_api_text(cf, param, v, NGX_HTTP_APIM_DESC_MAX,
                                      &a->docs) == NGX_OK
               ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    /* null-terminated, then relative to the configuration's directory */

    path.len = v->len;
    path.data = ngx_pnalloc(cf->pool, v->len + 1);
    if (path.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(path.data, v->data, v->len + 1);

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "invalid parameter \"%V\": cannot open \"%V\"",
                           param, &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || !ngx_is_file(&fi)
        || ngx_file_size(&fi) > NGX_HTTP_APIM_DOCS_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": \"%V\" is not a "
                           "regular file of at most 4m", param, &path);
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = (size_t) ngx_file_size(&fi);

    buf = ngx_pnalloc(cf->pool, n ? n : 1);
    if (buf == NULL) {
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    got = (n == 0) ? 0 : ngx_read_fd(fd, buf, n);

    ngx_close_file(fd);

    if (got < 0 || (size_t) got != n || n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "invalid parameter \"%V\": cannot read \"%V\" "
                           "(or it is empty)", param, &path);
        return NGX_CONF_ERROR;
    }

    a->docs_body.data = buf;
    a->docs_body.len = n;

    for (dt = ngx_http_apim_docs_types; dt->ext.len; dt++) {
        if (path.len > dt->ext.len
            && ngx_strncasecmp(path.data + path.len - dt->ext.len,
                               dt->ext.data, dt->ext.len)
               == 0)
        {
            break;
        }
    }

    a->docs_type = dt->type;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       param);
    return NGX_CONF_ERROR;
}


/*
 * An API named again in another location: what both give must agree;
 * what only one gives holds for the API.
 */

#define ngx_http_apim_merge_str(f, pname)                                    \
    if (from->f.data) {                                                      \
        if (to->f.data == NULL) {                                            \
            to->f = from->f;                                                 \
                                                                             \
        } else if (to->f.len != from->f.len                                  \
                   || ngx_strncmp(to->f.data, from->f.data, to->f.len) != 0) \
        {                                                                    \
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,                         \
                               "apim_api \"%V\": \"" pname "=%V\" "          \
                               "conflicts with \"" pname "=%V\" given "      \
                               "before", &to->name, &from->f, &to->f);       \
            return NGX_CONF_ERROR;                                           \
        }                                                                    \
    }

#define ngx_http_apim_merge_num(f, pname, unset)                             \
    if (from->f != unset) {                                                  \
        if (to->f == unset) {                                                \
            to->f = from->f;                                                 \
                                                                             \
        } else if (to->f != from->f) {                                       \
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,                         \
                               "apim_api \"%V\": \"" pname "\" conflicts "   \
                               "with the value given before", &to->name);    \
            return NGX_CONF_ERROR;                                           \
        }                                                                    \
    }


static char *
ngx_http_apim_api_merge(ngx_conf_t *cf, ngx_http_apim_api_t *to,
    ngx_http_apim_api_t *from)
{
    ngx_str_t   *t, *f;
    ngx_uint_t   i;

    ngx_http_apim_merge_str(version, "version");
    ngx_http_apim_merge_str(title, "title");
    ngx_http_apim_merge_str(description, "description");
    ngx_http_apim_merge_str(owner, "owner");
    ngx_http_apim_merge_str(docs, "docs");

    if (from->docs_body.data) {
        to->docs_body = from->docs_body;
        to->docs_type = from->docs_type;
    }

    ngx_http_apim_merge_num(visibility, "visibility", NGX_CONF_UNSET_UINT);
    ngx_http_apim_merge_num(sunset_action, "sunset_action",
                            NGX_CONF_UNSET_UINT);
    ngx_http_apim_merge_num(deprecated, "deprecated",
                            (time_t) NGX_CONF_UNSET);
    ngx_http_apim_merge_num(sunset, "sunset", (time_t) NGX_CONF_UNSET);

    if (from->tags == NULL) {
        return NGX_CONF_OK;
    }

    if (to->tags == NULL) {
        to->tags = from->tags;
        return NGX_CONF_OK;
    }

    t = to->tags->elts;
    f = from->tags->elts;

    if (to->tags->nelts != from->tags->nelts) {
        goto conflict;
    }

    for (i = 0; i < to->tags->nelts; i++) {
        if (t[i].len != f[i].len
            || ngx_strncmp(t[i].data, f[i].data, t[i].len) != 0)
        {
            goto conflict;
        }
    }

    return NGX_CONF_OK;

conflict:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "apim_api \"%V\": \"tags\" conflicts with the tags "
                       "given before", &to->name);
    return NGX_CONF_ERROR;
}


/* the location's name (a server's apim_api serves "/") */

static ngx_int_t
ngx_http_apim_api_path(ngx_conf_t *cf, ngx_http_apim_api_t *a)
{
    ngx_str_t                 *p, name;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (cf->cmd_type == NGX_HTTP_LOC_CONF && clcf->name.len) {
        name = clcf->name;

    } else {
        ngx_str_set(&name, "/");
    }

    p = a->paths.elts;

    for (i = 0; i < a->paths.nelts; i++) {
        if (p[i].len == name.len
            && ngx_strncmp(p[i].data, name.data, name.len) == 0)
        {
            return NGX_OK;
        }
    }

    p = ngx_array_push(&a->paths);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *p = name;

    return NGX_OK;
}


/* once every apim_api is read: the defaults, the checks, the headers */

ngx_int_t
ngx_http_apim_catalogue_finalize(ngx_conf_t *cf,
    ngx_http_apim_catalogue_t *cat)
{
    u_char                *p;
    ngx_uint_t             i;
    ngx_http_apim_api_t   *a, **ap;

    ap = cat->apis.elts;

    for (i = 0; i < cat->apis.nelts; i++) {
        a = ap[i];

        ngx_conf_init_uint_value(a->visibility, NGX_HTTP_APIM_API_PUBLIC);
        ngx_conf_init_uint_value(a->sunset_action, NGX_HTTP_APIM_SUNSET_GONE);

        if (a->deprecated == NGX_CONF_UNSET) {
            a->deprecated = 0;
        }

        if (a->sunset == NGX_CONF_UNSET) {
            a->sunset = 0;
        }

        if (a->deprecated) {
            p = ngx_pnalloc(cf->pool, 1 + NGX_TIME_T_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            a->deprecation_header.data = p;
            a->deprecation_header.len = ngx_sprintf(p, "@%T", a->deprecated)
                                        - p;
            cat->lifecycle = 1;
        }

        if (a->sunset) {
            p = ngx_pnalloc(cf->pool, sizeof("Mon, 28 Sep 1970 06:00:00 GMT"));
            if (p == NULL) {
                return NGX_ERROR;
            }

            a->sunset_header.data = p;
            a->sunset_header.len = ngx_http_time(p, a->sunset) - p;
            cat->lifecycle = 1;
        }
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_apim_api_state(ngx_http_apim_api_t *api, time_t now)
{
    if (api->sunset && now >= api->sunset) {
        return NGX_HTTP_APIM_STATE_SUNSET;
    }

    if (api->deprecated && now >= api->deprecated) {
        return NGX_HTTP_APIM_STATE_DEPRECATED;
    }

    return NGX_HTTP_APIM_STATE_ACTIVE;
}


/*
 * RFC 3339: "2026-06-30T00:00:00Z", "2026-06-30T02:00:00.5+02:00", or a
 * full-date alone, "2026-06-30", which is its midnight UTC.
 */

ngx_int_t
ngx_http_apim_time_parse(u_char *p, size_t len, time_t *t)
{
    u_char     *last;
    ngx_int_t   year, month, day, hour, min, sec, off, days, y, m;

    last = p + len;

    if (len < 10 || p[4] != '-' || p[7] != '-') {
        return NGX_ERROR;
    }

    year = ngx_http_apim_time_int(p, 4);
    month = ngx_http_apim_time_int(p + 5, 2);
    day = ngx_http_apim_time_int(p + 8, 2);

    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31) {
        return NGX_ERROR;
    }

    hour = 0;
    min = 0;
    sec = 0;
    off = 0;
    p += 10;

    if (p < last) {
        if (last - p < 9 || (*p != 'T' && *p != 't') || p[3] != ':'
            || p[6] != ':')
        {
            return NGX_ERROR;
        }

        hour = ngx_http_apim_time_int(p + 1, 2);
        min = ngx_http_apim_time_int(p + 4, 2);
        sec = ngx_http_apim_time_int(p + 7, 2);

        if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0
            || sec > 60)
        {
            return NGX_ERROR;
        }

        p += 9;

        /* fractions of a second do not matter here */

        if (p < last && *p == '.') {
            do {
                p++;
            } while (p < last && *p >= '0' && *p <= '9');
        }

        if (last - p == 1 && (*p == 'Z' || *p == 'z')) {
            off = 0;

        } else if (last - p == 6 && (*p == '+' || *p == '-') && p[3] == ':') {
            off = ngx_http_apim_time_int(p + 1, 2) * 3600
                  + ngx_http_apim_time_int(p + 4, 2) * 60;

            if (off < 0 || off >= 24 * 3600) {
                return NGX_ERROR;
            }

            if (*p == '-') {
                off = -off;
            }

        } else {
            return NGX_ERROR;
        }
    }

    /* days since 1970-01-01 in the proleptic Gregorian calendar */

    y = year - (month <= 2);
    m = month + (month <= 2 ? 9 : -3);

    days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + day - 1
           - 719468;

    *t = (time_t) days * 86400 + hour * 3600 + min * 60 + sec - off;

    return NGX_OK;
}


static ngx_int_t
ngx_http_apim_time_int(u_char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_ERROR;
        }
    }

    return ngx_atoi(p, len);
}


/* writes NGX_HTTP_APIM_TIME_LEN bytes: "2026-11-26T12:00:00Z" */

u_char *
ngx_http_apim_time_format(u_char *buf, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}
