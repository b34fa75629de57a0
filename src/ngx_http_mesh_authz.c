
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Mesh authorization: who may call this service.  The rules of the
 * configuration (mesh_allow, mesh_deny) and the store's edges of the
 * service are evaluated together, in Istio's order: any matching deny
 * denies; with no allow rule the default applies; otherwise a matching
 * allow allows and everything else is denied.  A caller without a verified
 * SPIFFE ID matches no rule.  Allowed callers are then counted against the
 * service's east-west limit (ngx_http_mesh_authz_limit.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_key.h"
#include "ngx_mesh_pattern.h"
#include "ngx_mesh_spiffe.h"
#include "ngx_http_apim_store.h"
#include "ngx_http_apim_problem.h"
#include "ngx_http_mesh_peer.h"
#include "ngx_http_mesh_authz.h"


#define NGX_HTTP_MESH_FORBIDDEN_TYPE                                         \
    "https://nginx-apim.dev/problems/mesh-forbidden"

#define NGX_HTTP_MESH_ALLOW           0
#define NGX_HTTP_MESH_DENY            1
#define NGX_HTTP_MESH_AUDIT           2


typedef struct {
    ngx_atomic_t                 *denied;
} ngx_http_mesh_audit_t;


static ngx_int_t ngx_http_mesh_authz_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_mesh_verdict(ngx_http_request_t *r,
    ngx_http_mesh_loc_conf_t *mlcf, ngx_mesh_str_t *id,
    ngx_http_mesh_edges_t *edges, ngx_uint_t *n, int64_t *edge);
static ngx_uint_t ngx_http_mesh_rules_match(ngx_http_request_t *r,
    ngx_array_t *rules, ngx_uint_t deny, ngx_mesh_str_t *id);
static ngx_http_mesh_limit_t *ngx_http_mesh_limit_find(ngx_array_t *limits,
    ngx_mesh_str_t *id);
static ngx_int_t ngx_http_mesh_authz_set(ngx_http_request_t *r,
    ngx_http_mesh_loc_conf_t *mlcf, ngx_uint_t verdict, ngx_uint_t n,
    int64_t edge);
static void ngx_http_mesh_authz_rule(ngx_http_request_t *r,
    ngx_uint_t verdict, ngx_str_t *rule);
static ngx_int_t ngx_http_mesh_forbidden(ngx_http_request_t *r,
    ngx_http_mesh_loc_conf_t *mlcf);
static void ngx_http_mesh_audit(ngx_http_request_t *r,
    ngx_http_mesh_main_conf_t *mmcf, ngx_http_mesh_loc_conf_t *mlcf,
    ngx_str_t *id, ngx_str_t *rule);
static ngx_int_t ngx_http_mesh_authz_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_shm_zone_t *ngx_http_mesh_limit_zone(ngx_conf_t *cf);
static ngx_int_t ngx_http_mesh_audit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


static ngx_str_t  ngx_http_mesh_authz_name = ngx_string("mesh_authz");

static ngx_str_t  ngx_http_mesh_verdicts[] = {
    ngx_string("allow "),
    ngx_string("deny "),
    ngx_string("audit ")
};

static ngx_str_t  ngx_http_mesh_defaults[] = {
    ngx_string("allow default"),
    ngx_string("deny default"),
    ngx_string("audit default")
};

/* $mesh_authz's slot in r->variables, where the verdict is kept */
static ngx_int_t  ngx_http_mesh_authz_index = NGX_ERROR;


extern ngx_module_t  ngx_http_apim_module;


/* mesh_service <name> */

char *
ngx_http_mesh_service_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mesh_loc_conf_t  *mlcf = conf;

    ngx_str_t                  *value;
    ngx_http_mesh_main_conf_t  *mmcf;

    if (mlcf->service.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (!ngx_apim_name_valid((char *) value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid service name \"%V\" in \"%V\": use 1 "
                           "to 64 of A-Z a-z 0-9 . _ -", &value[1],
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    mlcf->service = value[1];

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mesh_module);
    mmcf->requires_authz = 1;

    return NGX_CONF_OK;
}


/*
 * mesh_allow <id-pattern>... [methods=GET,POST] [paths=/a*,/b]
 * mesh_deny <id-pattern>... [methods=...] [paths=...]
 */

char *
ngx_http_mesh_rule_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mesh_loc_conf_t  *mlcf = conf;

    ngx_str_t                  *value, s;
    ngx_uint_t                  i;
    const char                 *err;
    ngx_mesh_str_t             *id;
    ngx_http_mesh_rule_t       *rule;
    ngx_http_mesh_main_conf_t  *mmcf;

    if (mlcf->rules == NULL) {
        mlcf->rules = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_http_mesh_rule_t));
        if (mlcf->rules == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(mlcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_mesh_rule_t));

    if (ngx_array_init(&rule->ids, cf->pool, 2, sizeof(ngx_mesh_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rule->deny = cmd->offset;

    if (rule->deny) {
        mlcf->has_deny = 1;

    } else {
        mlcf->has_allow = 1;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "methods=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            if (rule->methods.data || s.len == 0
                || !ngx_mesh_list_valid((char *) s.data, s.len,
                                        ngx_mesh_method_valid))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid methods \"%V\" in \"%V\", they "
                                   "must be nginx method names such as "
                                   "\"methods=GET,POST\"", &value[i],
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            rule->methods = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "paths=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            if (rule->paths.data || s.len == 0
                || !ngx_mesh_list_valid((char *) s.data, s.len,
                                        ngx_mesh_path_pattern_valid))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid paths \"%V\" in \"%V\", they "
                                   "must be paths such as \"paths=/a/*,/b\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            rule->paths = s;
            continue;
        }

        id = ngx_array_push(&rule->ids);
        if (id == NULL) {
            return NGX_CONF_ERROR;
        }

        id->data = (char *) value[i].data;
        id->len = value[i].len;

        err = ngx_mesh_spiffe_check_pattern(id);

        if (err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid caller pattern \"%V\" in \"%V\": %s; "
                               "it must be a SPIFFE ID, a prefix such as "
                               "\"spiffe://td/ns/shop/*\", or \"*\"",
                               &value[i], &cmd->name, err);
            return NGX_CONF_ERROR;
        }
    }

    if (rule->ids.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs a caller pattern", &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* $mesh_authz when it decides: "allow config:2" */

    rule->text.data = ngx_pnalloc(cf->pool, sizeof("allow config:")
                                            + NGX_INT_T_LEN);
    if (rule->text.data == NULL) {
        return NGX_CONF_ERROR;
    }

    rule->text.len = ngx_sprintf(rule->text.data, "%sconfig:%ui",
                                 rule->deny ? "deny " : "allow ",
                                 mlcf->rules->nelts)
                     - rule->text.data;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mesh_module);
    mmcf->requires_authz = 1;

    ngx_http_mesh_rule_used(cf, cmd);

    return NGX_CONF_OK;
}


/*
 * The value of a directive's one argument among cmd->post's names, or
 * NGX_CONF_UNSET_UINT once the error, naming the directive, is logged
 */

ngx_uint_t
ngx_http_mesh_conf_enum(ngx_conf_t *cf, ngx_command_t *cmd,
    const char *choices)
{
    ngx_str_t        *value;
    ngx_conf_enum_t  *e;

    value = cf->args->elts;

    for (e = cmd->post; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcmp(e->name.data, value[1].data) == 0)
        {
            return e->value;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\", it must be %s",
                       &value[1], &cmd->name, choices);

    return NGX_CONF_UNSET_UINT;
}


/* mesh_default allow|deny|audit */

char *
ngx_http_mesh_default_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mesh_loc_conf_t  *mlcf = conf;

    ngx_http_mesh_main_conf_t  *mmcf;

    if (mlcf->dflt != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    mlcf->dflt = ngx_http_mesh_conf_enum(cf, cmd,
                                         "\"allow\", \"deny\" or \"audit\"");

    if (mlcf->dflt == NGX_CONF_UNSET_UINT) {
        return NGX_CONF_ERROR;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mesh_module);
    mmcf->requires_authz = 1;

    if (mlcf->dflt == NGX_HTTP_MESH_DEFAULT_AUDIT) {
        mmcf->requires_audit = 1;
    }

    return NGX_CONF_OK;
}


/* the level's first identity rule, for the warning without strict mTLS */

void
ngx_http_mesh_rule_used(ngx_conf_t *cf, ngx_command_t *cmd)
{
    ngx_http_mesh_loc_conf_t  *mlcf;

    mlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_mesh_module);

    if (mlcf->rule_name.len) {
        return;
    }

    mlcf->rule_name = cmd->name;
    mlcf->rule_file = cf->conf_file->file.name;
    mlcf->rule_line = cf->conf_file->line;
}


ngx_int_t
ngx_http_mesh_authz_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_mesh_authz_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_mesh_authz_variable;

    return NGX_OK;
}


ngx_int_t
ngx_http_mesh_authz_init(ngx_conf_t *cf)
{
    ngx_str_t                   name;
    ngx_shm_zone_t             *zone;
    ngx_http_handler_pt        *h;
    ngx_http_mesh_audit_t      *audit;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_mesh_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mesh_module);

    if (!mmcf->requires_authz) {
        return NGX_OK;
    }

    /* apim_store's limiter zone, also the sign that a store is set */

    mmcf->limit_zone = ngx_http_mesh_limit_zone(cf);

    if (mmcf->limit_file.len && mmcf->limit_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"mesh_limit\" in %V:%ui needs \"apim_store\" in "
                      "the http block", &mmcf->limit_file, mmcf->limit_line);
        return NGX_ERROR;
    }

    if (mmcf->requires_audit) {
        ngx_str_set(&name, "mesh_audit");

        zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize,
                                     &ngx_http_mesh_module);
        if (zone == NULL) {
            return NGX_ERROR;
        }

        if (zone->data == NULL) {
            audit = ngx_pcalloc(cf->pool, sizeof(ngx_http_mesh_audit_t));
            if (audit == NULL) {
                return NGX_ERROR;
            }

            zone->init = ngx_http_mesh_audit_init_zone;
            zone->data = audit;
        }

        mmcf->audit_zone = zone;
    }

    ngx_http_mesh_authz_index = ngx_http_get_variable_index(cf,
                                                   &ngx_http_mesh_authz_name);
    if (ngx_http_mesh_authz_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mesh_authz_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mesh_authz_handler(ngx_http_request_t *r)
{
    int64_t                     edge;
    ngx_int_t                   rc;
    ngx_str_t                   id, rule;
    ngx_uint_t                  n, verdict, reading;
    ngx_mesh_str_t              mid;
    ngx_apim_store_t           *st;
    ngx_http_mesh_peer_t       *peer;
    ngx_http_mesh_edges_t       edges;
    ngx_http_mesh_limit_t      *lim;
    ngx_http_mesh_loc_conf_t   *mlcf;
    ngx_http_mesh_main_conf_t  *mmcf;
    ngx_http_variable_value_t  *v;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mesh_module);

    if (!ngx_http_mesh_authz_configured(mlcf)) {
        /* mesh_mtls strict alone: the identity handler's work */
        return (mlcf->mtls == NGX_HTTP_MESH_MTLS_STRICT)
               ? ngx_http_mesh_peer_handler(r) : NGX_DECLINED;
    }

    peer = ngx_http_mesh_peer(r, mlcf);
    if (peer == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* mesh_mtls strict: the identity handler's check, made here */

    if (mlcf->mtls == NGX_HTTP_MESH_MTLS_STRICT && !peer->verified) {
        return ngx_http_mesh_peer_strict(r, mlcf, peer);
    }

    /*
     * decided once a request: the verdict, kept as $mesh_authz, survives
     * internal redirects (which clear module contexts, not variables), so
     * that a request is not counted twice
     */

    if (r->variables[ngx_http_mesh_authz_index].valid) {
        return NGX_DECLINED;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mesh_module);

    /* identity rules fail closed: without a verified ID, none matches */

    if (peer->verified) {
        id = peer->id;

    } else {
        ngx_str_null(&id);
    }

    mid.data = (char *) id.data;
    mid.len = id.len;

    ngx_memzero(&edges, sizeof(ngx_http_mesh_edges_t));

    st = NULL;
    reading = 0;

    if (mlcf->service.len && mmcf->limit_zone) {
        st = ngx_http_apim_store();

        if (st == NULL) {
            goto store_error;
        }

        /* a service without edges needs no read transaction */

        if (!ngx_http_mesh_edges_none_known(st, &mlcf->service)) {

            if (ngx_apim_store_read_begin(st) != NGX_APIM_STORE_OK) {
                ngx_http_apim_store_error(r->connection->log, st);
                goto store_error;
            }

            reading = 1;

            if (ngx_http_mesh_edges_read(r, st, &mlcf->service, &mid, &edges)
                != NGX_OK)
            {
                goto store_error;
            }
        }
    }

    verdict = ngx_http_mesh_verdict(r, mlcf, &mid, &edges, &n, &edge);

    if (ngx_http_mesh_authz_set(r, mlcf, verdict, n, edge) != NGX_OK) {
        goto failed;
    }

    if (verdict == NGX_HTTP_MESH_DENY) {
        if (reading) {
            ngx_apim_store_read_end(st);
        }

        ngx_http_mesh_authz_rule(r, verdict, &rule);

        if (id.len) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mesh: \"%V\" may not call \"%V\" (deny %V)",
                          &id, &mlcf->service, &rule);

        } else {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mesh: a caller without a verified identity may "
                          "not call \"%V\" (deny %V)%s%V",
                          &mlcf->service, &rule,
                          peer->error.len ? ": " : "", &peer->error);
        }

        return ngx_http_mesh_forbidden(r, mlcf);
    }

    if (verdict == NGX_HTTP_MESH_AUDIT) {
        ngx_http_mesh_authz_rule(r, verdict, &rule);
        ngx_http_mesh_audit(r, mmcf, mlcf, &id, &rule);
    }

    /* the east-west limit: a store edge's rate, else the configuration's */

    lim = edges.limit ? edges.limit : ngx_http_mesh_limit_find(mlcf->limits,
                                                               &mid);
    rc = NGX_DECLINED;

    if (lim) {
        if (st == NULL) {
            st = ngx_http_apim_store();

            if (st == NULL) {
                goto store_error;
            }
        }

        rc = ngx_http_mesh_limit_check(r, mmcf->limit_zone, lim, mlcf, &id,
                                       st);
    }

    if (reading) {
        ngx_apim_store_read_end(st);
        reading = 0;
    }

    if (rc == NGX_ERROR) {
        /* logged once by the store or the limiter */
        goto store_error;
    }

    /*
     * Under "satisfy any", a call that a rule allows satisfies it, as
     * "allow" does; one let through by the default only does not
     */

    if (rc == NGX_DECLINED && verdict == NGX_HTTP_MESH_ALLOW && (n || edge)) {
        return NGX_OK;
    }

    return rc;

failed:

    if (reading) {
        ngx_apim_store_read_end(st);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;

store_error:

    /* authorization fails closed: without the store, no verdict */

    if (reading) {
        ngx_apim_store_read_end(st);
    }

    v = &r->variables[ngx_http_mesh_authz_index];

    v->len = sizeof("deny store-error") - 1;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = (u_char *) "deny store-error";

    ngx_http_finalize_request(r, ngx_http_apim_problem_store(r));

    return NGX_DONE;
}


/*
 * Istio's order: any matching deny denies; with no allow rule the default
 * applies; otherwise a matching allow allows, and everything else gets
 * the default's denial (which "audit" lets through).  *n is the number of
 * the configuration's rule that decided, *edge the store edge's id; both
 * 0: the default.
 */

static ngx_uint_t
ngx_http_mesh_verdict(ngx_http_request_t *r, ngx_http_mesh_loc_conf_t *mlcf,
    ngx_mesh_str_t *id, ngx_http_mesh_edges_t *edges, ngx_uint_t *n,
    int64_t *edge)
{
    *n = mlcf->has_deny ? ngx_http_mesh_rules_match(r, mlcf->rules, 1, id)
                        : 0;
    *edge = 0;

    if (*n) {
        return NGX_HTTP_MESH_DENY;
    }

    if (edges->deny) {
        *edge = edges->deny;
        return NGX_HTTP_MESH_DENY;
    }

    if (!mlcf->has_allow && !edges->any_allow) {

        switch (mlcf->dflt) {

        case NGX_HTTP_MESH_DEFAULT_DENY:
            return NGX_HTTP_MESH_DENY;

        case NGX_HTTP_MESH_DEFAULT_AUDIT:
            return NGX_HTTP_MESH_AUDIT;

        default: /* allow, or no mesh_service and no mesh_default */
            return NGX_HTTP_MESH_ALLOW;
        }
    }

    *n = ngx_http_mesh_rules_match(r, mlcf->rules, 0, id);

    if (*n) {
        return NGX_HTTP_MESH_ALLOW;
    }

    if (edges->allow) {
        *edge = edges->allow;
        return NGX_HTTP_MESH_ALLOW;
    }

    /* allow rules, and none matched: what audit is for */

    return (mlcf->dflt == NGX_HTTP_MESH_DEFAULT_AUDIT) ? NGX_HTTP_MESH_AUDIT
                                                        : NGX_HTTP_MESH_DENY;
}


/*
 * $mesh_authz, in the request's slot of the variable: "allow config:2",
 * "deny store:17", "audit default".  Only a store edge's text is made per
 * request.
 */

static ngx_int_t
ngx_http_mesh_authz_set(ngx_http_request_t *r, ngx_http_mesh_loc_conf_t *mlcf,
    ngx_uint_t verdict, ngx_uint_t n, int64_t edge)
{
    u_char                     *p;
    ngx_str_t                  *text, s;
    ngx_http_mesh_rule_t       *rules;
    ngx_http_variable_value_t  *v;

    if (n) {
        rules = mlcf->rules->elts;
        text = &rules[n - 1].text;

    } else if (edge) {
        p = ngx_pnalloc(r->pool, sizeof("audit store:") + NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;
        s.len = ngx_sprintf(p, "%Vstore:%L", &ngx_http_mesh_verdicts[verdict],
                            edge)
                - p;
        text = &s;

    } else {
        text = &ngx_http_mesh_defaults[verdict];
    }

    v = &r->variables[ngx_http_mesh_authz_index];

    v->len = text->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = text->data;

    return NGX_OK;
}


/* what follows the verdict in $mesh_authz, for the log: "config:2" */

static void
ngx_http_mesh_authz_rule(ngx_http_request_t *r, ngx_uint_t verdict,
    ngx_str_t *rule)
{
    ngx_http_variable_value_t  *v;

    v = &r->variables[ngx_http_mesh_authz_index];

    rule->data = v->data + ngx_http_mesh_verdicts[verdict].len;
    rule->len = v->len - ngx_http_mesh_verdicts[verdict].len;
}


/* the number (from 1) of the first matching rule of the kind, or 0 */

static ngx_uint_t
ngx_http_mesh_rules_match(ngx_http_request_t *r, ngx_array_t *rules,
    ngx_uint_t deny, ngx_mesh_str_t *id)
{
    ngx_uint_t             i, j;
    ngx_mesh_str_t        *pat;
    ngx_http_mesh_rule_t  *rule;

    if (rules == NULL || id->len == 0) {
        return 0;
    }

    rule = rules->elts;

    for (i = 0; i < rules->nelts; i++) {

        if (rule[i].deny != deny) {
            continue;
        }

        if (rule[i].methods.len
            && !ngx_mesh_methods_match((char *) rule[i].methods.data,
                                       rule[i].methods.len,
                                       (char *) r->method_name.data,
                                       r->method_name.len))
        {
            continue;
        }

        if (rule[i].paths.len
            && !ngx_mesh_paths_match((char *) rule[i].paths.data,
                                     rule[i].paths.len,
                                     (char *) r->uri.data, r->uri.len))
        {
            continue;
        }

        pat = rule[i].ids.elts;

        for (j = 0; j < rule[i].ids.nelts; j++) {
            if (ngx_mesh_spiffe_match(&pat[j], id)) {
                return i + 1;
            }
        }
    }

    return 0;
}


static ngx_http_mesh_limit_t *
ngx_http_mesh_limit_find(ngx_array_t *limits, ngx_mesh_str_t *id)
{
    ngx_uint_t              i;
    ngx_http_mesh_limit_t  *lim;

    if (limits == NULL || id->len == 0) {
        return NULL;
    }

    lim = limits->elts;

    for (i = 0; i < limits->nelts; i++) {
        if (ngx_mesh_spiffe_match(&lim[i].pattern, id)) {
            return &lim[i];
        }
    }

    return NULL;
}


/* 403: the body names the service, never the rules */

static ngx_int_t
ngx_http_mesh_forbidden(ngx_http_request_t *r, ngx_http_mesh_loc_conf_t *mlcf)
{
    u_char                   *p;
    ngx_http_apim_problem_t   pr;

    ngx_memzero(&pr, sizeof(ngx_http_apim_problem_t));

    pr.status = NGX_HTTP_FORBIDDEN;
    ngx_str_set(&pr.type, NGX_HTTP_MESH_FORBIDDEN_TYPE);
    ngx_str_set(&pr.title, "Forbidden");

    if (mlcf->service.len) {
        p = ngx_pnalloc(r->pool, sizeof("The caller may not call service "
                                        "\"\".") + mlcf->service.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        pr.detail.data = p;
        pr.detail.len = ngx_sprintf(p, "The caller may not call service "
                                    "\"%V\".", &mlcf->service) - p;

    } else {
        ngx_str_set(&pr.detail, "The caller may not call this service.");
    }

    ngx_http_finalize_request(r, ngx_http_apim_problem_send(r, &pr));

    return NGX_DONE;
}


/* let through, but logged and counted across workers */

static void
ngx_http_mesh_audit(ngx_http_request_t *r, ngx_http_mesh_main_conf_t *mmcf,
    ngx_http_mesh_loc_conf_t *mlcf, ngx_str_t *id, ngx_str_t *rule)
{
    ngx_atomic_uint_t       n;
    ngx_http_mesh_audit_t  *audit;

    n = 0;

    if (mmcf->audit_zone) {
        audit = mmcf->audit_zone->data;

        if (audit->denied) {
            n = ngx_atomic_fetch_add(audit->denied, 1) + 1;
        }
    }

    if (id->len) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mesh: audit: \"%V\" calling \"%V\" would be denied "
                      "(%V), %uA so far", id, &mlcf->service, rule, n);

    } else {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mesh: audit: a caller without a verified identity "
                      "calling \"%V\" would be denied (%V), %uA so far",
                      &mlcf->service, rule, n);
    }
}


static ngx_int_t
ngx_http_mesh_authz_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    /* the handler sets the slot when it decides; until then, no value */

    v->not_found = 1;

    return NGX_OK;
}


/* the zone ngx_http_apim_module made for apim_store, if it did */

static ngx_shm_zone_t *
ngx_http_mesh_limit_zone(ngx_conf_t *cf)
{
    ngx_uint_t        i;
    ngx_shm_zone_t   *shm;
    ngx_list_part_t  *part;

    part = &cf->cycle->shared_memory.part;
    shm = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            shm = part->elts;
            i = 0;
        }

        if (shm[i].tag == &ngx_http_apim_module) {
            return &shm[i];
        }
    }
}


static ngx_int_t
ngx_http_mesh_audit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_mesh_audit_t  *oaudit = data;

    ngx_slab_pool_t        *shpool;
    ngx_http_mesh_audit_t  *audit;

    audit = shm_zone->data;

    if (oaudit) {
        audit->denied = oaudit->denied;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        audit->denied = shpool->data;
        return NGX_OK;
    }

    audit->denied = ngx_slab_calloc(shpool, sizeof(ngx_atomic_t));
    if (audit->denied == NULL) {
        return NGX_ERROR;
    }

    shpool->data = (void *) audit->denied;

    return NGX_OK;
}
