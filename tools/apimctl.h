
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's shared part: the exit codes, the option flags (an update
 * applies the options it was given), the context one run fills in (the
 * parsed command line, the open store, the HMAC of the secret), and the
 * functions its files call across: the command handlers, which apimctl.c
 * dispatches to, and the helpers the handlers share (printing, times,
 * JSON, usage).  Each of apimctl's files includes it first.
 */


#ifndef _APIMCTL_H_INCLUDED_
#define _APIMCTL_H_INCLUDED_


/* before any system header: getline(), memmem() */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <time.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

/* it defines OPENSSL_SUPPRESS_DEPRECATED before any OpenSSL header */
#include "ngx_apim_key.h"
#include "ngx_apim_ops.h"
#include "ngx_apim_record.h"
#include "ngx_apim_store.h"
#include "ngx_apim_usage.h"


#define APIMCTL_OK                0
#define APIMCTL_FAILED            1
#define APIMCTL_USAGE             2
#define APIMCTL_DONE              3      /* help or version printed */
#define APIMCTL_RETRY             4      /* a random id was taken */

#define APIMCTL_OPT_STORE         0x0001
#define APIMCTL_OPT_SECRET        0x0002
#define APIMCTL_OPT_SIZE          0x0004
#define APIMCTL_OPT_PLAN          0x0008
#define APIMCTL_OPT_CONSUMER      0x0010
#define APIMCTL_OPT_EXPIRES       0x0020
#define APIMCTL_OPT_NOT_BEFORE    0x0040
#define APIMCTL_OPT_APIS          0x0080
#define APIMCTL_OPT_META          0x0100
#define APIMCTL_OPT_GRACE         0x0200
#define APIMCTL_OPT_OUTPUT        0x0400
#define APIMCTL_OPT_PRUNE         0x0800

#define APIMCTL_WORDS_MAX         2      /* "key", "show" */
#define APIMCTL_META_MAX          64
#define APIMCTL_TIME_LEN          sizeof("9999-12-31T23:59:59Z")
#define APIMCTL_METADATA_MAX      4096   /* bytes of JSON */
#define APIMCTL_EXPORT_FORMAT     "nginx-apim-export/1"


typedef struct apimctl_command_s  apimctl_command_t;


typedef struct {
    const char                *key;
    const char                *value;
} apimctl_meta_t;


typedef struct {
    time_t                     now;
    size_t                     size;
    int64_t                    expires;
    int64_t                    not_before;
    int64_t                    grace;        /* seconds */
    unsigned                   given;        /* APIMCTL_OPT_* seen */
    unsigned                   cleared;      /* given as "-" */
    unsigned                   prune;
    unsigned                   nwords;
    unsigned                   nmeta;
    const char                *store;
    const char                *secret;
    const char                *size_text;
    const char                *plan;
    const char                *consumer;
    const char                *apis;
    const char                *output;
    const char                *arg;          /* the positional argument */
    char                      *metadata;     /* JSON text, or NULL */
    size_t                     metadata_len;
    const char                *words[APIMCTL_WORDS_MAX];
    apimctl_meta_t             meta[APIMCTL_META_MAX];
    const apimctl_command_t   *cmd;
    size_t                     key_len;
    char                       key[NGX_APIM_KEY_MAX + 3];
    ngx_apim_hmac_t            hmac;
    ngx_apim_store_t           st;
} apimctl_ctx_t;


typedef struct {
    apimctl_ctx_t             *ctx;
    int                        damaged;
} apimctl_list_t;


/* apimctl.c */
const char *apimctl_quote(const char *s);
const char *apimctl_time(int64_t t, char buf[APIMCTL_TIME_LEN]);
int apimctl_parse_rfc3339(const char *s, int64_t *t);
int apimctl_id_valid(const char *id);
void apimctl_field(const char *name, const ngx_apim_str_t *value);
int apimctl_open_store(apimctl_ctx_t *ctx);
int apimctl_store_error(apimctl_ctx_t *ctx, int rc);
int apimctl_written(apimctl_ctx_t *ctx, int rc, const char *what);

/* apimctl_json.c */
yajl_val apimctl_json_parse(const char *text, size_t len, char *err,
    size_t errlen);
int apimctl_json_gen_value(yajl_gen g, yajl_val v);
int apimctl_json_take(yajl_gen g, char **out, size_t *len);
int apimctl_meta_normalize(const ngx_apim_str_t *in, char **out,
    size_t *len);
int apimctl_meta_merge(apimctl_ctx_t *ctx, const ngx_apim_str_t *old,
    char **out, size_t *len);

/* apimctl_consumer.c */
int apimctl_consumer_add(apimctl_ctx_t *ctx);
int apimctl_consumer_update(apimctl_ctx_t *ctx);
int apimctl_consumer_list(apimctl_ctx_t *ctx);
int apimctl_consumer_show(apimctl_ctx_t *ctx);
int apimctl_consumer_delete(apimctl_ctx_t *ctx);

/* apimctl_key.c */
int apimctl_key_add(apimctl_ctx_t *ctx);
int apimctl_key_import(apimctl_ctx_t *ctx);
int apimctl_key_import_file(apimctl_ctx_t *ctx);
int apimctl_key_list(apimctl_ctx_t *ctx);
int apimctl_key_show(apimctl_ctx_t *ctx);
int apimctl_key_update(apimctl_ctx_t *ctx);
int apimctl_key_rotate(apimctl_ctx_t *ctx);
int apimctl_key_revoke(apimctl_ctx_t *ctx);
int apimctl_usage_show(apimctl_ctx_t *ctx);
int apimctl_usage_reset(apimctl_ctx_t *ctx);
int apimctl_usage_get(ngx_apim_store_t *st, MDB_txn *txn, const char *id,
    uint32_t gen, ngx_apim_usage_rec_t *usage);
int apimctl_usage_put(ngx_apim_store_t *st, MDB_txn *txn, const char *id,
    const ngx_apim_usage_rec_t *usage);

/* apimctl_status.c */
int apimctl_status(apimctl_ctx_t *ctx);
int apimctl_plans(apimctl_ctx_t *ctx);

/* apimctl_export.c */
int apimctl_export(apimctl_ctx_t *ctx);

/* apimctl_import.c */
int apimctl_import(apimctl_ctx_t *ctx);

/* apimctl_mesh.c */
int apimctl_mesh_main(apimctl_ctx_t *ctx, int argc, char **argv);


#endif /* _APIMCTL_H_INCLUDED_ */
