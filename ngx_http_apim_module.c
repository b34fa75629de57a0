
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * ngx_http_apim_module: consumer-facing API management.  This file holds
 * the directives, the configuration and the handlers; the work is done by
 * the code in src/.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_store.h"
#include "ngx_http_apim_status.h"


typedef struct {
    ngx_http_apim_store_conf_t   store;
    ngx_flag_t                   enabled;     /* apim_store is set */
} ngx_http_apim_main_conf_t;


static char *ngx_http_apim_store_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_apim_status_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_apim_status_handler(ngx_http_request_t *r);

static void *ngx_http_apim_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_apim_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_apim_init_process(ngx_cycle_t *cycle);
static void ngx_http_apim_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_apim_commands[] = {

    { ngx_string("apim_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_apim_store_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("apim_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_apim_status_directive,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_apim_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_apim_create_main_conf,        /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_apim_module = {
    NGX_MODULE_V1,
    &ngx_http_apim_module_ctx,             /* module context */
    ngx_http_apim_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_apim_init_module,             /* init module */
    ngx_http_apim_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_apim_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_apim_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_apim_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->store.path = { 0, NULL };
     *     amcf->store.maxreaders = 0;
     *     amcf->enabled = 0;
     */

    amcf->store.size = NGX_CONF_UNSET_SIZE;

    return amcf;
}


/* apim_store <dir> [size=<size>] */

static char *
ngx_http_apim_store_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_apim_main_conf_t  *amcf = conf;

    ssize_t     size;
    ngx_str_t  *value, s;

    if (amcf->enabled) {
        return "is duplicate";
    }

    value = cf->args->elts;

    amcf->store.path = value[1];

    if (amcf->store.path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apim_store needs a directory, not \"\"");
        return NGX_CONF_ERROR;
    }

    /* relative to the prefix; null-terminated for open() */

    if (ngx_conf_full_name(cf->cycle, &amcf->store.path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    while (amcf->store.path.len > 1
           && amcf->store.path.data[amcf->store.path.len - 1] == '/')
    {
        amcf->store.path.len--;
    }

    amcf->store.path.data[amcf->store.path.len] = '\0';

    amcf->store.size = NGX_HTTP_APIM_STORE_DEFAULT_SIZE;

    if (cf->args->nelts == 3) {

        if (ngx_strncmp(value[2].data, "size=", 5) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 5;
        s.len = value[2].len - 5;

        size = ngx_parse_offset(&s);

        if (size == NGX_ERROR || size < NGX_HTTP_APIM_STORE_MIN_SIZE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store size \"%V\", it must be "
                               "at least 1m", &value[2]);
            return NGX_CONF_ERROR;
        }

        amcf->store.size = (size_t) size;
    }

    amcf->enabled = 1;

    return ngx_http_apim_store_configure(cf, &amcf->store);
}


static char *
ngx_http_apim_status_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_apim_module);

    if (!amcf->enabled) {
        return "needs \"apim_store\" before it in the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_apim_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_apim_status_handler(ngx_http_request_t *r)
{
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_apim_module);

    return ngx_http_apim_status_send(r, &amcf->store.path,
                                     amcf->store.size);
}


static ngx_int_t
ngx_http_apim_init_module(ngx_cycle_t *cycle)
{
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_apim_module);

    if (amcf == NULL || !amcf->enabled) {
        return NGX_OK;
    }

    return ngx_http_apim_store_init_module(cycle, &amcf->store);
}


static ngx_int_t
ngx_http_apim_init_process(ngx_cycle_t *cycle)
{
    ngx_http_apim_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_apim_module);

    if (amcf == NULL || !amcf->enabled) {
        return NGX_OK;
    }

    return ngx_http_apim_store_init_process(cycle, &amcf->store);
}


static void
ngx_http_apim_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_apim_store_exit_process(cycle);
}
