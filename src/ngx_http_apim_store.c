
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The store's life in nginx: checked (and made) while the configuration
 * is read, handed to the workers' user, opened once in each worker (never
 * across fork), swept for dead readers, closed at exit.  Both modules reach
 * it through ngx_http_apim_store().
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_apim_store.h"


#define NGX_HTTP_APIM_STORE_SWEEP     30000
#define NGX_HTTP_APIM_STORE_RETRY     1


static ngx_int_t ngx_http_apim_store_mkdir(ngx_conf_t *cf, ngx_str_t *path);
static ngx_uint_t ngx_http_apim_store_maxreaders(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_apim_store_open(ngx_log_t *log);
static void ngx_http_apim_store_sweep(ngx_event_t *ev);


/* per process: the one environment handle both modules share */

static ngx_apim_store_t             ngx_http_apim_store_env;
static ngx_http_apim_store_conf_t  *ngx_http_apim_store_conf;
static time_t                       ngx_http_apim_store_retry;
static ngx_uint_t                   ngx_http_apim_store_failing;
static ngx_event_t                  ngx_http_apim_store_sweep_ev;


char *
ngx_http_apim_store_configure(ngx_conf_t *cf, ngx_http_apim_store_conf_t *scf)
{
    ngx_apim_store_t  st;

    if (ngx_http_apim_store_mkdir(cf, &scf->path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (access((char *) scf->path.data, R_OK|W_OK|X_OK) == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "apim_store \"%V\" is not writable", &scf->path);
        return NGX_CONF_ERROR;
    }

    scf->maxreaders = ngx_http_apim_store_maxreaders(cf->cycle);

    if (ngx_http_apim_store_env.env
        && ngx_http_apim_store_conf
        && ngx_strcmp(ngx_http_apim_store_conf->path.data, scf->path.data)
           == 0)
    {
        /*
         * a reload without a master process: this process has the store
         * open already, and LMDB forbids a second handle in one process
         */
        return NGX_CONF_OK;
    }

    if (ngx_apim_store_open(&st, (char *) scf->path.data, scf->size,
                            scf->maxreaders, NGX_APIM_STORE_CREATE)
        != NGX_APIM_STORE_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "apim_store \"%V\": %s",
                           &scf->path, st.err);
        return NGX_CONF_ERROR;
    }

    ngx_apim_store_close(&st);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_apim_store_mkdir(ngx_conf_t *cf, ngx_str_t *path)
{
    u_char           *p;
    ngx_file_info_t   fi;

    if (ngx_file_info(path->data, &fi) == NGX_FILE_ERROR) {

        /* make every missing parent, then the directory itself */

        for (p = path->data + 1; *p; p++) {
            if (*p != '/') {
                continue;
            }

            *p = '\0';

            if (ngx_create_dir(path->data, 0755) == NGX_FILE_ERROR
                && ngx_errno != NGX_EEXIST)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                                   "apim_store \"%V\": cannot create \"%s\"",
                                   path, path->data);
                *p = '/';
                return NGX_ERROR;
            }

            *p = '/';
        }

        if (ngx_create_dir(path->data, 0700) == NGX_FILE_ERROR
            && ngx_errno != NGX_EEXIST)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "apim_store \"%V\": cannot create the "
                               "directory", path);
            return NGX_ERROR;
        }

        if (ngx_file_info(path->data, &fi) == NGX_FILE_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "apim_store \"%V\": stat() failed", path);
            return NGX_ERROR;
        }
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "apim_store \"%V\" is not a directory", path);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* every worker may hold two readers, and tools need a few more */

static ngx_uint_t
ngx_http_apim_store_maxreaders(ngx_cycle_t *cycle)
{
    ngx_int_t         workers;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    workers = ccf->worker_processes;

    if (workers == NGX_CONF_UNSET || workers < 1) {
        workers = 1;
    }

    return ngx_max(126, (ngx_uint_t) workers * 2 + 64);
}


/*
 * Writes a "meta" record for other programs (apimctl) when nginx starts or
 * reloads: what nginx.conf says that the store alone cannot know.  Not
 * for "nginx -t", which changes nothing.  A failure is logged, and nginx
 * starts all the same.
 */

ngx_int_t
ngx_http_apim_store_publish(ngx_cycle_t *cycle,
    ngx_http_apim_store_conf_t *scf, const char *name, ngx_str_t *value)
{
    int                rc;
    ngx_apim_store_t   st, *stp;

    if (ngx_test_config) {
        return NGX_OK;
    }

    if (ngx_http_apim_store_env.env) {

        /* a reload without a master process: the store is open here */

        stp = &ngx_http_apim_store_env;

    } else {
        if (ngx_apim_store_open(&st, (char *) scf->path.data, scf->size,
                                scf->maxreaders, 0)
            != NGX_APIM_STORE_OK)
        {
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "apim_store \"%V\": %s", &scf->path, st.err);
            return NGX_OK;
        }

        stp = &st;
    }

    rc = ngx_apim_store_put(stp, NGX_APIM_DB_META, name, ngx_strlen(name),
                            value->data, value->len);

    if (rc != NGX_APIM_STORE_OK) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "apim_store \"%V\": %s", &scf->path, stp->err);
    }

    if (stp == &st) {
        ngx_apim_store_close(&st);
    }

    return NGX_OK;
}


/*
 * The master made the store as root while it read the configuration; the
 * workers switch to the "user" account before they open it.
 */

ngx_int_t
ngx_http_apim_store_init_module(ngx_cycle_t *cycle,
    ngx_http_apim_store_conf_t *scf)
{
    DIR              *dir;
    u_char           *name;
    struct dirent    *de;
    ngx_core_conf_t  *ccf;

    if (geteuid() != 0) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT || ccf->user == 0) {
        return NGX_OK;
    }

    if (chown((char *) scf->path.data, ccf->user, ccf->group) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "apim_store: chown(\"%V\") failed", &scf->path);
        return NGX_ERROR;
    }

    dir = opendir((char *) scf->path.data);
    if (dir == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "apim_store: opendir(\"%V\") failed", &scf->path);
        return NGX_ERROR;
    }

    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        name = ngx_pnalloc(cycle->pool, scf->path.len + 1
                                        + ngx_strlen(de->d_name) + 1);
        if (name == NULL) {
            closedir(dir);
            return NGX_ERROR;
        }

        ngx_sprintf(name, "%V/%s%Z", &scf->path, de->d_name);

        if (chown((char *) name, ccf->user, ccf->group) == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "apim_store: chown(\"%s\") failed", name);
            closedir(dir);
            return NGX_ERROR;
        }
    }

    closedir(dir);

    return NGX_OK;
}


ngx_int_t
ngx_http_apim_store_init_process(ngx_cycle_t *cycle,
    ngx_http_apim_store_conf_t *scf)
{
    ngx_event_t  *ev;

    if (ngx_process == NGX_PROCESS_HELPER) {
        return NGX_OK;
    }

    ngx_http_apim_store_conf = scf;

    if (ngx_http_apim_store_env.env) {
        /* single process mode keeps the handle across a reload */
        return NGX_OK;
    }

    /* a failure here is logged; requests then get 503 until it opens */

    (void) ngx_http_apim_store_open(cycle->log);

    if (ngx_worker == 0) {
        ev = &ngx_http_apim_store_sweep_ev;

        ev->handler = ngx_http_apim_store_sweep;
        ev->log = cycle->log;
        ev->data = scf;
        ev->cancelable = 1;

        ngx_add_timer(ev, NGX_HTTP_APIM_STORE_SWEEP);
    }

    return NGX_OK;
}


void
ngx_http_apim_store_exit_process(ngx_cycle_t *cycle)
{
    ngx_apim_store_close(&ngx_http_apim_store_env);
    ngx_http_apim_store_conf = NULL;
}


static ngx_int_t
ngx_http_apim_store_open(ngx_log_t *log)
{
    int                          dead;
    ngx_apim_store_t            *st;
    ngx_http_apim_store_conf_t  *scf;

    st = &ngx_http_apim_store_env;
    scf = ngx_http_apim_store_conf;

    ngx_http_apim_store_retry = ngx_time() + NGX_HTTP_APIM_STORE_RETRY;

    if (ngx_apim_store_open(st, (char *) scf->path.data, scf->size,
                            scf->maxreaders, NGX_APIM_STORE_CREATE)
        != NGX_APIM_STORE_OK)
    {
        ngx_http_apim_store_error(log, st);
        st->env = NULL;
        return NGX_ERROR;
    }

    ngx_http_apim_store_ok();

    dead = 0;

    if (ngx_apim_store_check_readers(st, &dead) != NGX_APIM_STORE_OK) {
        ngx_http_apim_store_error(log, st);

    } else if (dead) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "apim store: cleared %d stale reader slots", dead);
    }

    return NGX_OK;
}


/* the store, or NULL while it cannot be opened (retried every second) */

ngx_apim_store_t *
ngx_http_apim_store(void)
{
    if (ngx_http_apim_store_env.env) {
        return &ngx_http_apim_store_env;
    }

    if (ngx_http_apim_store_conf == NULL
        || ngx_time() < ngx_http_apim_store_retry)
    {
        return NULL;
    }

    if (ngx_http_apim_store_open(ngx_cycle->log) != NGX_OK) {
        return NULL;
    }

    return &ngx_http_apim_store_env;
}


/* a store problem is logged once, until the store works again */

void
ngx_http_apim_store_error(ngx_log_t *log, ngx_apim_store_t *st)
{
    ngx_http_apim_store_fail(log, st->err);
}


void
ngx_http_apim_store_fail(ngx_log_t *log, const char *reason)
{
    if (ngx_http_apim_store_failing) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0, "apim store: %s", reason);
        return;
    }

    ngx_http_apim_store_failing = 1;

    ngx_log_error(NGX_LOG_ERR, log, 0, "apim store: %s", reason);
}


void
ngx_http_apim_store_ok(void)
{
    ngx_http_apim_store_failing = 0;
}


/* copies a string out of the store's map before the read ends */

ngx_int_t
ngx_http_apim_store_str(ngx_pool_t *pool, ngx_str_t *dst,
    const ngx_apim_str_t *src)
{
    dst->len = src->len;

    if (src->len == 0) {
        dst->data = NULL;
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return NGX_OK;
}


static void
ngx_http_apim_store_sweep(ngx_event_t *ev)
{
    int                dead;
    ngx_apim_store_t  *st;

    st = ngx_http_apim_store();

    if (st) {
        dead = 0;

        if (ngx_apim_store_check_readers(st, &dead) != NGX_APIM_STORE_OK) {
            ngx_http_apim_store_error(ev->log, st);

        } else if (dead) {
            ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                          "apim store: cleared %d stale reader slots", dead);
        }
    }

    if (!ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_add_timer(ev, NGX_HTTP_APIM_STORE_SWEEP);
    }
}
