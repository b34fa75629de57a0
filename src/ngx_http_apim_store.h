
/*
 * Copyright (C) The nginx-apim authors
 */


#ifndef _NGX_HTTP_APIM_STORE_H_INCLUDED_
#define _NGX_HTTP_APIM_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_apim_store.h"
#include "ngx_apim_record.h"


#define NGX_HTTP_APIM_STORE_DEFAULT_SIZE  (1024 * 1024 * 1024)
#define NGX_HTTP_APIM_STORE_MIN_SIZE      (1024 * 1024)


typedef struct {
    ngx_str_t              path;      /* absolute, null-terminated */
    size_t                 size;
    ngx_uint_t             maxreaders;
} ngx_http_apim_store_conf_t;


char *ngx_http_apim_store_configure(ngx_conf_t *cf,
    ngx_http_apim_store_conf_t *scf);
ngx_int_t ngx_http_apim_store_init_module(ngx_cycle_t *cycle,
    ngx_http_apim_store_conf_t *scf);
ngx_int_t ngx_http_apim_store_init_process(ngx_cycle_t *cycle,
    ngx_http_apim_store_conf_t *scf);
void ngx_http_apim_store_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_apim_store_publish(ngx_cycle_t *cycle,
    ngx_http_apim_store_conf_t *scf, const char *name, ngx_str_t *value);

ngx_apim_store_t *ngx_http_apim_store(void);
void ngx_http_apim_store_error(ngx_log_t *log, ngx_apim_store_t *st);
void ngx_http_apim_store_fail(ngx_log_t *log, const char *reason);
void ngx_http_apim_store_ok(void);
ngx_int_t ngx_http_apim_store_str(ngx_pool_t *pool, ngx_str_t *dst,
    const ngx_apim_str_t *src);


#endif /* _NGX_HTTP_APIM_STORE_H_INCLUDED_ */
