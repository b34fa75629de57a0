
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's shared part: the exit codes, the context one run fills in
 * (the parsed command line, the open store, the HMAC of the secret), and
 * the functions its files call across: the command handlers, which
 * apimctl.c dispatches to, and the few helpers the handlers print with.
 * Each of apimctl's files includes it first.
 */


#ifndef _APIMCTL_H_INCLUDED_
#define _APIMCTL_H_INCLUDED_


/* before any system header: getline(), memmem() */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <time.h>

/* it defines OPENSSL_SUPPRESS_DEPRECATED before any OpenSSL header */
#include "ngx_apim_key.h"
#include "ngx_apim_record.h"
#include "ngx_apim_store.h"


#define APIMCTL_OK                0
#define APIMCTL_FAILED            1
#define APIMCTL_USAGE             2
#define APIMCTL_DONE              3      /* help or version printed */
#define APIMCTL_RETRY             4      /* a random id was taken */

#define APIMCTL_WORDS_MAX         2      /* "key", "show" */
#define APIMCTL_META_MAX          64
#define APIMCTL_TIME_LEN          sizeof("9999-12-31T23:59:59Z")


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
    unsigned                   given;        /* APIMCTL_OPT_* seen */
    unsigned                   nwords;
    unsigned                   nmeta;
    const char                *store;
    const char                *secret;
    const char                *size_text;
    const char                *plan;
    const char                *consumer;
    const char                *apis;
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
void apimctl_field(const char *name, const ngx_apim_str_t *value);
int apimctl_store_error(apimctl_ctx_t *ctx, int rc);

/* apimctl_consumer.c */
int apimctl_consumer_add(apimctl_ctx_t *ctx);
int apimctl_consumer_list(apimctl_ctx_t *ctx);
int apimctl_consumer_show(apimctl_ctx_t *ctx);
int apimctl_consumer_delete(apimctl_ctx_t *ctx);

/* apimctl_key.c */
int apimctl_key_add(apimctl_ctx_t *ctx);
int apimctl_key_import(apimctl_ctx_t *ctx);
int apimctl_key_import_file(apimctl_ctx_t *ctx);
int apimctl_key_list(apimctl_ctx_t *ctx);
int apimctl_key_show(apimctl_ctx_t *ctx);
int apimctl_key_revoke(apimctl_ctx_t *ctx);
int apimctl_usage_show(apimctl_ctx_t *ctx);

/* apimctl_mesh.c */
int apimctl_mesh_main(apimctl_ctx_t *ctx, int argc, char **argv);


#endif /* _APIMCTL_H_INCLUDED_ */
