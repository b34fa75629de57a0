
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * East-west limits: mesh_limit and the rates of store edges, counted in
 * the limiter the APIM plans use (src/ngx_http_apim_limit.c), under names
 * of their own:
 *
 *   "m:s:" + caller ID                    per=source, across all services
 *   "m:e:" + service + " " + caller ID    per=edge
 *   "m:h:" + SHA-1 of one of these        when it is longer than 256 bytes
 *
 * A refusal is the APIM module's 429: Retry-After, the RateLimit headers
 * and a problem body naming the violated policy.
 *
 * A worker keeps the hashes of the names it counted last, in a table
 * indexed by where the caller's ID sits (a connection's peer, the same
 * for all its requests): a keep-alive connection's requests compare their
 * name with the one kept instead of hashing it again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>

#include "ngx_mesh_spiffe.h"
#include "ngx_http_apim_headers.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_mesh_authz.h"


#define NGX_HTTP_MESH_LIMIT_NAME_MAX   256
#define NGX_HTTP_MESH_LIMIT_BUF        (sizeof("m:e: ") + 64               \
                                        + NGX_MESH_SPIFFE_ID_MAX)

#define NGX_HTTP_MESH_LIMIT_NAMES      64       /* a power of 2 */


/*
 * A limiter name and its hash, kept for the next requests of the same
 * connection to the same mesh_limit: the connection's number is never
 * reused in a worker's life, and its peer's ID does not change
 */

typedef struct {
    ngx_atomic_uint_t             conn;        /* c->number */
    ngx_http_mesh_limit_t        *lim;         /* the configuration's */
    u_char                       *service;
    u_char                       *id;
    size_t                        id_len;
    uint32_t                      hash;
    u_short                       len;         /* 0: empty */
    u_char                        name[NGX_HTTP_MESH_LIMIT_NAME_MAX];
} ngx_http_mesh_limit_name_t;


static void ngx_http_mesh_limit_name(ngx_http_mesh_limit_t *lim,
    ngx_str_t *service, ngx_str_t *id, ngx_str_t *name);
static ngx_int_t ngx_http_mesh_limit_reject(ngx_http_request_t *r,
    ngx_http_mesh_limit_t *lim, ngx_str_t *service,
    ngx_http_apim_limit_result_t *res);


/* per worker, in static memory: nothing is allocated for it */
static ngx_http_mesh_limit_name_t
    ngx_http_mesh_limit_names[NGX_HTTP_MESH_LIMIT_NAMES];


/* mesh_limit <id-pattern> rate=<n>r/s [burst=<n>] [per=source|edge] */

char *
ngx_http_mesh_limit_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mesh_loc_conf_t  *mlcf = conf;

    u_char                     *p;
    size_t                      len;
    ngx_int_t                   rate, burst, window;
    ngx_str_t                  *value;
    ngx_uint_t                  i;
    const char                 *err;
    ngx_mesh_str_t              pattern;
    ngx_http_mesh_limit_t      *lim;
    ngx_http_mesh_main_conf_t  *mmcf;

    value = cf->args->elts;

    pattern.data = (char *) value[1].data;
    pattern.len = value[1].len;

    err = ngx_mesh_spiffe_check_pattern(&pattern);

    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid caller pattern \"%V\" in \"%V\": %s; "
                           "it must be a SPIFFE ID, a prefix such as "
                           "\"spiffe://td/ns/shop/*\", or \"*\"", &value[1],
                           &cmd->name, err);
        return NGX_CONF_ERROR;
    }

    if (mlcf->limits == NULL) {
        mlcf->limits = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_mesh_limit_t));
        if (mlcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    lim = ngx_array_push(mlcf->limits);
    if (lim == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(lim, sizeof(ngx_http_mesh_limit_t));

    lim->pattern = pattern;
    lim->per = NGX_HTTP_MESH_PER_EDGE;

    rate = 0;
    window = 1;
    burst = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
            p = value[i].data + 5;
            len = value[i].len - 5;
            rate = NGX_ERROR;

            if (len > 3 && ngx_strncmp(p + len - 3, "r/s", 3) == 0) {
                rate = ngx_atoi(p, len - 3);
                window = 1;

            } else if (len > 3 && ngx_strncmp(p + len - 3, "r/m", 3) == 0) {
                rate = ngx_atoi(p, len - 3);
                window = 60;
            }

            if (rate <= 0 || rate > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rate \"%V\" in \"%V\", it must "
                                   "look like \"10r/s\" or \"100r/m\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (burst == NGX_ERROR || burst > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\" in \"%V\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "per=source") == 0) {
            lim->per = NGX_HTTP_MESH_PER_SOURCE;
            continue;
        }

        if (ngx_strcmp(value[i].data, "per=edge") == 0) {
            lim->per = NGX_HTTP_MESH_PER_EDGE;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"", &value[i],
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (rate == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mesh_limit\" needs rate=, such as "
                           "\"rate=10r/s\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mesh_limit_policy(cf->pool, lim, rate, window, burst)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mesh_module);
    mmcf->requires_authz = 1;

    if (mmcf->limit_file.len == 0) {
        mmcf->limit_file = cf->conf_file->file.name;
        mmcf->limit_line = cf->conf_file->line;
    }

    ngx_http_mesh_rule_used(cf, cmd);

    return NGX_CONF_OK;
}


/* the limiter's parameters and the RateLimit-Policy of a rate */

ngx_int_t
ngx_http_mesh_limit_policy(ngx_pool_t *pool, ngx_http_mesh_limit_t *lim,
    int64_t rate, int64_t window, int64_t burst)
{
    u_char  *p;

    ngx_str_set(&lim->plan.name, "mesh");

    lim->plan.rate_window = (ngx_uint_t) window;
    lim->plan.limit.rate = rate;
    lim->plan.limit.interval = window * 1000000 / rate;
    lim->plan.limit.burst = burst;

    p = ngx_pnalloc(pool, sizeof("\"rate\";q=;w=") + 2 * NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    lim->plan.policy.data = p;
    lim->plan.policy.len = ngx_sprintf(p, "\"rate\";q=%L;w=%L", rate, window)
                           - p;

    return NGX_OK;
}


/* mesh_limit_headers reject|all */

char *
ngx_http_mesh_limit_headers_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mesh_loc_conf_t  *mlcf = conf;

    if (mlcf->limit_headers != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    mlcf->limit_headers = ngx_http_mesh_conf_enum(cf, cmd,
                                                  "\"reject\" or \"all\"");

    return (mlcf->limit_headers == NGX_CONF_UNSET_UINT) ? NGX_CONF_ERROR
                                                         : NGX_CONF_OK;
}


/*
 * Counts the request: NGX_DECLINED when it passes (with its RateLimit
 * headers set under "mesh_limit_headers all"), NGX_DONE when a 429 was
 * sent, NGX_ERROR when the limiter or the store cannot count (logged
 * there).
 */

ngx_int_t
ngx_http_mesh_limit_check(ngx_http_request_t *r, ngx_shm_zone_t *zone,
    ngx_http_mesh_limit_t *lim, ngx_http_mesh_loc_conf_t *mlcf, ngx_str_t *id,
    ngx_apim_store_t *st)
{
    uint32_t                      hash;
    ngx_str_t                     name, *service;
    ngx_uint_t                    slot;
    ngx_connection_t             *c;
    ngx_http_mesh_limit_name_t   *n;
    ngx_http_apim_limit_result_t  res;

    service = &mlcf->service;

    if (id->len > NGX_MESH_SPIFFE_ID_MAX || service->len > 64) {
        return NGX_ERROR;
    }

    c = r->connection;
    slot = c->number ^ ((uintptr_t) lim >> 4);
    n = &ngx_http_mesh_limit_names[slot & (NGX_HTTP_MESH_LIMIT_NAMES - 1)];

    if (n->len
        && n->conn == c->number
        && n->lim == lim
        && n->service == service->data
        && n->id == id->data
        && n->id_len == id->len)
    {
        name.data = n->name;
        name.len = n->len;
        hash = n->hash;

    } else {
        ngx_http_mesh_limit_name(lim, service, id, &name);
        hash = ngx_http_apim_limit_hash(&name);

        /* a store edge's limit lives in the request pool: not kept */

        if (!lim->from_store) {
            n->conn = c->number;
            n->lim = lim;
            n->service = service->data;
            n->id = id->data;
            n->id_len = id->len;
            n->hash = hash;
            n->len = (u_short) name.len;
            ngx_memcpy(n->name, name.data, name.len);
        }
    }

    /* generation 0: a mesh count is never reset by apimctl */

    if (ngx_http_apim_limit_count(zone, &name, hash, 0, &lim->plan.limit, st,
                                  &res,
                                  (mlcf->limit_headers
                                   == NGX_HTTP_MESH_HEADERS_ALL)
                                  ? NGX_HTTP_APIM_LIMIT_COUNT
                                    |NGX_HTTP_APIM_LIMIT_DETAIL
                                  : NGX_HTTP_APIM_LIMIT_COUNT)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a 429 always carries them; other answers with mesh_limit_headers all */

    if (res.rejected == NGX_HTTP_APIM_LIMIT_PASSED
        && mlcf->limit_headers == NGX_HTTP_MESH_HEADERS_REJECT)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_apim_headers_set(r, NGX_HTTP_APIM_HEADERS_IETF, &lim->plan,
                                  &res)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (res.rejected == NGX_HTTP_APIM_LIMIT_PASSED) {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mesh: \"%V\" is over its rate limit for \"%V\"",
                  id, service);

    ngx_http_finalize_request(r,
                              ngx_http_mesh_limit_reject(r, lim, service,
                                                         &res));
    return NGX_DONE;
}


/*
 * "m:e:<service> <id>" (per=edge) or "m:s:<id>" (per=source); a name too
 * long for the limiter is replaced by "m:h:" and its SHA-1.  The name is
 * valid until the next call.
 */

static void
ngx_http_mesh_limit_name(ngx_http_mesh_limit_t *lim, ngx_str_t *service,
    ngx_str_t *id, ngx_str_t *name)
{
    u_char      digest[20];
    u_char     *p;
    ngx_sha1_t  sha1;

    static u_char  buf[NGX_HTTP_MESH_LIMIT_BUF];

    if (lim->per == NGX_HTTP_MESH_PER_SOURCE) {
        p = ngx_cpymem(buf, "m:s:", 4);

    } else {
        p = ngx_cpymem(buf, "m:e:", 4);
        p = ngx_cpymem(p, service->data, service->len);
        *p++ = ' ';
    }

    p = ngx_cpymem(p, id->data, id->len);

    name->data = buf;
    name->len = p - buf;

    if (name->len > NGX_HTTP_MESH_LIMIT_NAME_MAX) {
        ngx_sha1_init(&sha1);
        ngx_sha1_update(&sha1, buf, name->len);
        ngx_sha1_final(digest, &sha1);

        p = ngx_cpymem(buf, "m:h:", 4);
        p = ngx_hex_dump(p, digest, sizeof(digest));
        name->len = p - buf;
    }
}


/* 429 with Retry-After and the violated policy */

static ngx_int_t
ngx_http_mesh_limit_reject(ngx_http_request_t *r, ngx_http_mesh_limit_t *lim,
    ngx_str_t *service, ngx_http_apim_limit_result_t *res)
{
    u_char     *p;
    ngx_str_t   detail;

    p = ngx_pnalloc(r->pool, 2 * NGX_INT64_LEN + 128 + service->len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    detail.data = p;

    if (lim->per == NGX_HTTP_MESH_PER_SOURCE || service->len == 0) {
        p = ngx_sprintf(p, "The caller's rate limit is exceeded; "
                        "retry in %L s.", res->retry_after);

    } else {
        p = ngx_sprintf(p, "The caller's rate limit for service \"%V\" is "
                        "exceeded; retry in %L s.", service,
                        res->retry_after);
    }

    detail.len = p - detail.data;

    return ngx_http_apim_problem_limit(r, "rate", &detail, res->retry_after);
}
