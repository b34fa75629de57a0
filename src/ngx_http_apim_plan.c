
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Plans (tiers): parsing "apim_plan <name> rate=.. burst=.. quota=..
 * quota_window=.. apis=..", finding a key's plan, and deciding whether a
 * plan or a key may call an API.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_key.h"
#include "ngx_http_apim_plan.h"


static char *ngx_http_apim_plan_rate(ngx_conf_t *cf,
    ngx_http_apim_plan_t *plan, ngx_str_t *value);
static char *ngx_http_apim_plan_quota(ngx_conf_t *cf,
    ngx_http_apim_plan_t *plan, ngx_str_t *value);
static char *ngx_http_apim_plan_apis(ngx_conf_t *cf,
    ngx_http_apim_plan_t *plan, ngx_str_t *value);
static ngx_int_t ngx_http_apim_plan_policy(ngx_conf_t *cf,
    ngx_http_apim_plan_t *plan);


typedef struct {
    ngx_str_t                 name;
    ngx_apim_period_e         unit;
} ngx_http_apim_period_name_t;


static ngx_http_apim_period_name_t  ngx_http_apim_periods[] = {
    { ngx_string("hour"), NGX_APIM_PERIOD_HOUR },
    { ngx_string("day"), NGX_APIM_PERIOD_DAY },
    { ngx_string("week"), NGX_APIM_PERIOD_WEEK },
    { ngx_string("month"), NGX_APIM_PERIOD_MONTH },
    { ngx_string("year"), NGX_APIM_PERIOD_YEAR },
    { ngx_null_string, 0 }
};


/* apim_plan <name> [rate=] [burst=] [quota=] [quota_window=] [apis=] */

char *
ngx_http_apim_plan_parse(ngx_conf_t *cf, ngx_array_t *plans)
{
    char                  *rv;
    u_char                *p;
    size_t                 len;
    ngx_int_t              burst;
    ngx_str_t             *value, s;
    ngx_uint_t             i, window_set;
    ngx_http_apim_plan_t  *plan;

    value = cf->args->elts;

    if (!ngx_apim_name_valid((char *) value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid plan name \"%V\": use 1 to 64 of "
                           "A-Z a-z 0-9 . _ -", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_apim_plan_find(plans, value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate plan \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    plan = ngx_array_push(plans);
    if (plan == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(plan, sizeof(ngx_http_apim_plan_t));

    plan->name = value[1];
    burst = -1;
    window_set = 0;

    /* as written, for apimctl ("apimctl plans", from the store) */

    len = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        len += value[i].len + 1;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    plan->text.data = p;

    for (i = 1; i < cf->args->nelts; i++) {
        p = ngx_cpymem(p, value[i].data, value[i].len);
        *p++ = ' ';
    }

    plan->text.len = len - 1;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
            rv = ngx_http_apim_plan_rate(cf, plan, &value[i]);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (burst == NGX_ERROR || burst > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "quota=", 6) == 0) {
            rv = ngx_http_apim_plan_quota(cf, plan, &value[i]);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "quota_window=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len = value[i].len - 13;

            if (s.len == 8 && ngx_strncmp(s.data, "calendar", 8) == 0) {
                plan->limit.period.rolling = 0;

            } else if (s.len == 7 && ngx_strncmp(s.data, "rolling", 7) == 0) {
                plan->limit.period.rolling = 1;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid quota_window \"%V\", it must be "
                                   "\"calendar\" or \"rolling\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            window_set = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "apis=", 5) == 0) {
            rv = ngx_http_apim_plan_apis(cf, plan, &value[i]);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (burst >= 0) {
        if (plan->limit.interval == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "plan \"%V\" has burst= without rate=",
                               &plan->name);
            return NGX_CONF_ERROR;
        }

        plan->limit.burst = burst;
    }

    if (window_set && plan->limit.quota == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "plan \"%V\" has quota_window= without quota=",
                           &plan->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_apim_plan_policy(cf, plan) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* rate=<n>r/s or rate=<n>r/m */

static char *
ngx_http_apim_plan_rate(ngx_conf_t *cf, ngx_http_apim_plan_t *plan,
    ngx_str_t *value)
{
    u_char     *p;
    size_t      len;
    ngx_int_t   rate, scale;

    p = value->data + 5;
    len = value->len - 5;
    scale = 0;

    if (len > 3 && ngx_strncmp(p + len - 3, "r/s", 3) == 0) {
        scale = 1;

    } else if (len > 3 && ngx_strncmp(p + len - 3, "r/m", 3) == 0) {
        scale = 60;
    }

    rate = scale ? ngx_atoi(p, len - 3) : NGX_ERROR;

    if (rate <= 0 || rate > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\", it must look like "
                           "\"10r/s\" or \"100r/m\"", value);
        return NGX_CONF_ERROR;
    }

    plan->rate_window = scale;
    plan->limit.rate = rate;
    plan->limit.interval = (int64_t) scale * 1000000 / rate;

    return NGX_CONF_OK;
}


/* quota=<n>/<hour|day|week|month|year|time> */

static char *
ngx_http_apim_plan_quota(ngx_conf_t *cf, ngx_http_apim_plan_t *plan,
    ngx_str_t *value)
{
    u_char                       *p, *last, *slash;
    ngx_int_t                     n, secs;
    ngx_str_t                     unit;
    ngx_http_apim_period_name_t  *pn;

    p = value->data + 6;
    last = value->data + value->len;

    slash = ngx_strlchr(p, last, '/');

    if (slash == NULL) {
        goto invalid;
    }

    n = ngx_atoi(p, slash - p);

    if (n <= 0) {
        goto invalid;
    }

    unit.data = slash + 1;
    unit.len = last - unit.data;

    plan->limit.quota = n;

    for (pn = ngx_http_apim_periods; pn->name.len; pn++) {
        if (unit.len == pn->name.len
            && ngx_strncmp(unit.data, pn->name.data, unit.len) == 0)
        {
            plan->limit.period.unit = pn->unit;
            return NGX_CONF_OK;
        }
    }

    secs = ngx_parse_time(&unit, 1);

    if (secs == NGX_ERROR || secs < 1) {
        goto invalid;
    }

    plan->limit.period.unit = NGX_APIM_PERIOD_SECONDS;
    plan->limit.period.seconds = secs;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid quota \"%V\", it must look like "
                       "\"1000/day\" or \"5/30s\"", value);
    return NGX_CONF_ERROR;
}


/* apis=<name>,<name>... */

static char *
ngx_http_apim_plan_apis(ngx_conf_t *cf, ngx_http_apim_plan_t *plan,
    ngx_str_t *value)
{
    u_char     *p, *last, *comma;
    ngx_str_t  *api;

    plan->apis = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (plan->apis == NULL) {
        return NGX_CONF_ERROR;
    }

    p = value->data + 5;
    last = value->data + value->len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        if (!ngx_apim_name_valid((char *) p, comma - p)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid API name in \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        api = ngx_array_push(plan->apis);
        if (api == NULL) {
            return NGX_CONF_ERROR;
        }

        api->data = p;
        api->len = comma - p;

        if (comma == last) {
            return NGX_CONF_OK;
        }

        p = comma + 1;
    }
}


/*
 * RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers-10), made once:
 * "rate";q=10;w=1, "quota";q=10000;w=2592000
 */

static ngx_int_t
ngx_http_apim_plan_policy(ngx_conf_t *cf, ngx_http_apim_plan_t *plan)
{
    u_char  *p;

    p = ngx_pnalloc(cf->pool,
                    2 * (sizeof("\"quota\";q=;w=, ") + 2 * NGX_INT64_LEN));
    if (p == NULL) {
        return NGX_ERROR;
    }

    plan->policy.data = p;

    if (plan->limit.interval) {
        p = ngx_sprintf(p, "\"rate\";q=%L;w=%ui", plan->limit.rate,
                        plan->rate_window);
    }

    if (plan->limit.quota) {
        if (p != plan->policy.data) {
            p = ngx_cpymem(p, ", ", 2);
        }

        p = ngx_sprintf(p, "\"quota\";q=%L;w=%L", plan->limit.quota,
                        ngx_apim_period_nominal(&plan->limit.period));
    }

    plan->policy.len = p - plan->policy.data;

    return NGX_OK;
}


/*
 * The plans as nginx.conf has them, one "apim_plan" a line without the
 * directive's name: what nginx publishes in the store for apimctl.
 */

ngx_int_t
ngx_http_apim_plan_text(ngx_pool_t *pool, ngx_array_t *plans,
    ngx_str_t *text)
{
    u_char                *p;
    size_t                 len;
    ngx_uint_t             i;
    ngx_http_apim_plan_t  *plan;

    plan = plans->elts;
    len = 0;

    for (i = 0; i < plans->nelts; i++) {
        len += plan[i].text.len + 1;
    }

    text->len = len;
    text->data = ngx_pnalloc(pool, len + 1);

    if (text->data == NULL) {
        return NGX_ERROR;
    }

    p = text->data;

    for (i = 0; i < plans->nelts; i++) {
        p = ngx_cpymem(p, plan[i].text.data, plan[i].text.len);
        *p++ = '\n';
    }

    return NGX_OK;
}


ngx_http_apim_plan_t *
ngx_http_apim_plan_find(ngx_array_t *plans, u_char *name, size_t len)
{
    ngx_uint_t             i;
    ngx_http_apim_plan_t  *plan;

    plan = plans->elts;

    for (i = 0; i < plans->nelts; i++) {
        if (plan[i].name.len == len
            && ngx_strncmp(plan[i].name.data, name, len) == 0)
        {
            return &plan[i];
        }
    }

    return NULL;
}


/* is the API in a comma-separated list (a key's own "apis") */

ngx_uint_t
ngx_http_apim_api_listed(ngx_str_t *api, u_char *list, size_t len)
{
    u_char  *p, *last, *comma;

    p = list;
    last = list + len;

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        if ((size_t) (comma - p) == api->len
            && ngx_strncmp(p, api->data, api->len) == 0)
        {
            return 1;
        }

        p = comma + 1;
    }

    return 0;
}


ngx_uint_t
ngx_http_apim_api_allowed(ngx_str_t *api, ngx_array_t *apis)
{
    ngx_str_t   *a;
    ngx_uint_t   i;

    if (apis == NULL) {
        return 1;
    }

    a = apis->elts;

    for (i = 0; i < apis->nelts; i++) {
        if (a[i].len == api->len
            && ngx_strncmp(a[i].data, api->data, api->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}
