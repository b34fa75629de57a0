
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's status command: what nginx's apim_status endpoint tells of
 * the store (path, schema, sizes, records of each sub-database), plus
 * the fingerprint of the secret, one "field: value" a line; and its plans
 * command: the plans of nginx.conf as the nginx using the store last
 * published them (a "meta" record written when it starts or reloads).
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


int
apimctl_plans(apimctl_ctx_t *ctx)
{
    int             rc;
    ngx_apim_val_t  val;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_META, "plans",
                            sizeof("plans") - 1, &val);

    if (rc == NGX_APIM_STORE_OK) {
        fwrite(val.data, 1, val.len, stdout);
    }

    ngx_apim_store_read_end(&ctx->st);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: no plans in the store yet: nginx writes "
                "them when it starts or reloads with this store\n");
        return APIMCTL_FAILED;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    return APIMCTL_OK;
}
