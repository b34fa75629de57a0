
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's status command: what nginx's apim_status endpoint tells of
 * the store (path, schema, sizes, records of each sub-database), plus
 * the fingerprint of the secret, one "field: value" a line.  The plans
 * are nginx.conf's and are not in the store, so apimctl cannot list them.
 */


#include "apimctl.h"

#include <stdio.h>


int
apimctl_status(apimctl_ctx_t *ctx)
{
    int       rc;
    size_t    n[NGX_APIM_DB_COUNT];
    unsigned  i;
    char      fp[NGX_APIM_FP_LEN + 1];

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    for (i = NGX_APIM_DB_CONSUMERS; i < NGX_APIM_DB_COUNT; i++) {
        rc = ngx_apim_store_stat(&ctx->st, i, &n[i]);
        if (rc != NGX_APIM_STORE_OK) {
            break;
        }
    }

    ngx_apim_store_read_end(&ctx->st);

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    ngx_apim_secret_fingerprint(&ctx->hmac, fp);

    printf("path: %s\n", ctx->store);
    printf("schema: %s\n", NGX_APIM_STORE_SCHEMA);
    printf("secret_fp: %s\n", fp);
    printf("size: %zu\n", ctx->st.max_size);
    printf("map_bytes: %zu\n", ctx->st.map_size);
    printf("used_bytes: %zu\n", ngx_apim_store_used(&ctx->st));

    for (i = NGX_APIM_DB_CONSUMERS; i < NGX_APIM_DB_COUNT; i++) {
        printf("%s: %zu\n", ngx_apim_store_db_name(i), n[i]);
    }

    printf("version: %s\n", NGX_APIM_VERSION);

    return APIMCTL_OK;
}
