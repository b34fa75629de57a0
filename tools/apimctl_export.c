
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's export command: the store's state as one JSON document, made
 * with yajl from one read transaction (a consistent snapshot while nginx
 * runs): the schema, the fingerprint of the secret, every consumer, and
 * every key record with its id, its HMAC (hex) and its usage.  Never a
 * key, never the secret.  Consumers come in name order and keys in id
 * order, with fixed fields and indentation, so that two exports of the
 * same state are the same bytes.  "import" reads it back.
 */


#include "apimctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>


typedef struct {
    apimctl_ctx_t             *ctx;
    yajl_gen                   g;
    int                        failed;       /* reported */
} apimctl_export_t;


static int apimctl_export_json(apimctl_export_t *ex);
static int apimctl_export_consumer(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static int apimctl_export_key(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static int apimctl_export_usage(apimctl_export_t *ex, const char *id,
    size_t len, uint32_t gen);
static int apimctl_export_meta(apimctl_export_t *ex, const char *what,
    const ngx_apim_str_t *name, const ngx_apim_str_t *meta);
static int apimctl_export_write(apimctl_ctx_t *ctx,
    const unsigned char *buf, size_t len);
static int apimctl_gen_key(yajl_gen g, const char *key);
static int apimctl_gen_str(yajl_gen g, const char *key, const char *s,
    size_t len);
static int apimctl_gen_opt(yajl_gen g, const char *key,
    const ngx_apim_str_t *s);
static int apimctl_gen_int(yajl_gen g, const char *key, int64_t n);
static int apimctl_gen_time(yajl_gen g, const char *key, int64_t t);


int
apimctl_export(apimctl_ctx_t *ctx)
{
    int                   rc;
    size_t                len;
    apimctl_export_t      ex;
    const unsigned char  *buf;

    ex.ctx = ctx;
    ex.failed = 0;
    ex.g = yajl_gen_alloc(NULL);

    if (ex.g == NULL
        || !yajl_gen_config(ex.g, yajl_gen_beautify, 1)
        || !yajl_gen_config(ex.g, yajl_gen_indent_string, "  ")
        || !yajl_gen_config(ex.g, yajl_gen_validate_utf8, 1))
    {
        if (ex.g) {
            yajl_gen_free(ex.g);
        }

        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    rc = ngx_apim_store_read_begin(&ctx->st);

    if (rc == NGX_APIM_STORE_OK) {
        rc = apimctl_export_json(&ex);
        ngx_apim_store_read_end(&ctx->st);
    }

    if (rc == NGX_APIM_STORE_OK && !ex.failed) {
        if (yajl_gen_get_buf(ex.g, &buf, &len) == yajl_gen_status_ok) {
            rc = apimctl_export_write(ctx, buf, len);

        } else {
            fprintf(stderr, "apimctl: cannot make the JSON\n");
            rc = APIMCTL_FAILED;
        }

    } else if (ex.failed) {
        rc = APIMCTL_FAILED;

    } else if (rc == APIMCTL_FAILED) {
        fprintf(stderr, "apimctl: cannot make the JSON\n");

    } else {
        rc = apimctl_store_error(ctx, rc);
    }

    yajl_gen_free(ex.g);

    return rc;
}


/* a store error, or APIMCTL_FAILED when the generator failed */

static int
apimctl_export_json(apimctl_export_t *ex)
{
    int       rc;
    char      fp[NGX_APIM_FP_LEN + 1];
    yajl_gen  g;

    g = ex->g;

    ngx_apim_secret_fingerprint(&ex->ctx->hmac, fp);

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || apimctl_gen_str(g, "format", APIMCTL_EXPORT_FORMAT,
                           sizeof(APIMCTL_EXPORT_FORMAT) - 1) != 0
        || apimctl_gen_str(g, "schema", NGX_APIM_STORE_SCHEMA,
                           sizeof(NGX_APIM_STORE_SCHEMA) - 1) != 0
        || apimctl_gen_str(g, "secret_fp", fp, NGX_APIM_FP_LEN) != 0
        || apimctl_gen_key(g, "consumers") != 0
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return APIMCTL_FAILED;
    }

    rc = ngx_apim_store_iterate(&ex->ctx->st, NGX_APIM_DB_CONSUMERS, NULL, 0,
                                apimctl_export_consumer, ex);
    if (rc != NGX_APIM_STORE_OK || ex->failed) {
        return rc;
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || apimctl_gen_key(g, "keys") != 0
        || yajl_gen_array_open(g) != yajl_gen_status_ok)
    {
        return APIMCTL_FAILED;
    }

    rc = ngx_apim_store_iterate(&ex->ctx->st, NGX_APIM_DB_KEY_IDS, NULL, 0,
                                apimctl_export_key, ex);
    if (rc != NGX_APIM_STORE_OK || ex->failed) {
        return rc;
    }

    if (yajl_gen_array_close(g) != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return APIMCTL_FAILED;
    }

    return NGX_APIM_STORE_OK;
}


static int
apimctl_export_consumer(const ngx_apim_val_t *key, const ngx_apim_val_t *val,
    void *data)
{
    apimctl_export_t  *ex = data;

    yajl_gen                 g;
    ngx_apim_consumer_rec_t  rec;

    g = ex->g;

    if (ngx_apim_consumer_rec_decode(&rec, val->data, val->len) != 0) {
        fprintf(stderr, "apimctl: the record of consumer \"%.*s\" is "
                "damaged; nothing was exported\n", (int) key->len,
                (const char *) key->data);
        ex->failed = 1;
        return APIMCTL_FAILED;
    }

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || apimctl_gen_str(g, "name", rec.name.data, rec.name.len) != 0
        || apimctl_gen_str(g, "id", rec.id.data, rec.id.len) != 0
        || apimctl_gen_str(g, "plan", rec.plan.data, rec.plan.len) != 0
        || apimctl_gen_time(g, "created", rec.created) != 0
        || apimctl_gen_int(g, "flags", rec.flags) != 0
        || apimctl_export_meta(ex, "consumer", &rec.name, &rec.metadata) != 0
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        if (!ex->failed) {
            fprintf(stderr, "apimctl: cannot make the JSON\n");
        }

        ex->failed = 1;

        return APIMCTL_FAILED;
    }

    return NGX_APIM_STORE_OK;
}


static int
apimctl_export_key(const ngx_apim_val_t *key, const ngx_apim_val_t *val,
    void *data)
{
    apimctl_export_t  *ex = data;

    int                  rc;
    char                 hex[2 * NGX_APIM_HASH_LEN];
    size_t               i, n;
    yajl_gen             g;
    const char          *p, *comma;
    ngx_apim_val_t       rv;
    ngx_apim_str_t       id;
    ngx_apim_key_rec_t   rec;
    const unsigned char *hash;

    static const char    digits[] = "0123456789abcdef";

    g = ex->g;

    id.data = key->data;
    id.len = key->len;

    rc = NGX_APIM_STORE_NOT_FOUND;

    if (val->len == NGX_APIM_HASH_LEN) {
        rc = ngx_apim_store_get(&ex->ctx->st, NGX_APIM_DB_KEYS, val->data,
                                NGX_APIM_HASH_LEN, &rv);

        if (rc == NGX_APIM_STORE_ERROR) {
            return rc;
        }

        if (rc == NGX_APIM_STORE_OK
            && (ngx_apim_key_rec_decode(&rec, rv.data, rv.len) != 0
                || rec.id.len != id.len
                || memcmp(rec.id.data, id.data, id.len) != 0))
        {
            rc = NGX_APIM_STORE_NOT_FOUND;
        }
    }

    if (rc != NGX_APIM_STORE_OK) {
        fprintf(stderr, "apimctl: the record of key \"%.*s\" is damaged; "
                "nothing was exported\n", (int) id.len, id.data);
        ex->failed = 1;
        return APIMCTL_FAILED;
    }

    hash = val->data;

    for (i = 0; i < NGX_APIM_HASH_LEN; i++) {
        hex[2 * i] = digits[hash[i] >> 4];
        hex[2 * i + 1] = digits[hash[i] & 0x0f];
    }

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || apimctl_gen_str(g, "id", id.data, id.len) != 0
        || apimctl_gen_str(g, "hmac", hex, sizeof(hex)) != 0
        || apimctl_gen_str(g, "consumer", rec.consumer.data,
                           rec.consumer.len) != 0
        || apimctl_gen_opt(g, "plan", &rec.plan) != 0
        || apimctl_gen_key(g, "apis") != 0)
    {
        goto failed;
    }

    if (rec.apis.len == 0) {
        if (yajl_gen_null(g) != yajl_gen_status_ok) {
            goto failed;
        }

    } else {
        if (yajl_gen_array_open(g) != yajl_gen_status_ok) {
            goto failed;
        }

        for (p = rec.apis.data; /* void */ ; p = comma + 1) {
            n = rec.apis.len - (p - rec.apis.data);
            comma = memchr(p, ',', n);

            if (comma) {
                n = comma - p;
            }

            if (yajl_gen_string(g, (const unsigned char *) p, n)
                != yajl_gen_status_ok)
            {
                goto failed;
            }

            if (comma == NULL) {
                break;
            }
        }

        if (yajl_gen_array_close(g) != yajl_gen_status_ok) {
            goto failed;
        }
    }

    if (apimctl_gen_time(g, "created", rec.created) != 0
        || apimctl_gen_time(g, "not_before", rec.not_before) != 0
        || apimctl_gen_time(g, "expires_at", rec.expires_at) != 0
        || apimctl_gen_int(g, "flags", rec.flags) != 0
        || apimctl_export_meta(ex, "key", &id, &rec.metadata) != 0
        || apimctl_export_usage(ex, id.data, id.len, rec.usage_gen) != 0
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        goto failed;
    }

    return NGX_APIM_STORE_OK;

failed:

    if (!ex->failed) {
        fprintf(stderr, "apimctl: cannot make the JSON\n");
    }

    ex->failed = 1;

    return APIMCTL_FAILED;
}


/*
 * "usage": null when nginx has written none for the key, or none since
 * its last reset (a record of another generation)
 */

static int
apimctl_export_usage(apimctl_export_t *ex, const char *id, size_t len,
    uint32_t gen)
{
    int                   rc;
    char                  name[sizeof(NGX_APIM_USAGE_PREFIX)
                               + NGX_APIM_ID_LEN];
    yajl_gen              g;
    ngx_apim_val_t        val;
    ngx_apim_usage_rec_t  u;

    g = ex->g;

    if (apimctl_gen_key(g, "usage") != 0) {
        return -1;
    }

    snprintf(name, sizeof(name), "%s%.*s", NGX_APIM_USAGE_PREFIX, (int) len,
             id);

    rc = ngx_apim_store_get(&ex->ctx->st, NGX_APIM_DB_COUNTERS, name,
                            strlen(name), &val);

    if (rc == NGX_APIM_STORE_OK
        && ngx_apim_usage_rec_decode(&u, val.data, val.len) != 0)
    {
        fprintf(stderr, "apimctl: the usage record of key \"%.*s\" is "
                "damaged; nothing was exported\n", (int) len, id);
        ex->failed = 1;
        return -1;
    }

    if (rc == NGX_APIM_STORE_NOT_FOUND
        || (rc == NGX_APIM_STORE_OK && u.gen != gen))
    {
        return (yajl_gen_null(g) == yajl_gen_status_ok) ? 0 : -1;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return -1;
    }

    if (yajl_gen_map_open(g) != yajl_gen_status_ok
        || apimctl_gen_time(g, "window_start", u.window_start) != 0
        || apimctl_gen_time(g, "window_end", u.window_end) != 0
        || apimctl_gen_int(g, "count", u.count) != 0
        || apimctl_gen_int(g, "tat", u.tat) != 0
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        return -1;
    }

    return 0;
}


/* the metadata text as the JSON object it is; null for none */

static int
apimctl_export_meta(apimctl_export_t *ex, const char *what,
    const ngx_apim_str_t *name, const ngx_apim_str_t *meta)
{
    int       rc;
    char      err[128];
    yajl_gen  g;
    yajl_val  v;

    g = ex->g;

    if (apimctl_gen_key(g, "metadata") != 0) {
        return -1;
    }

    if (meta->len == 0) {
        return (yajl_gen_null(g) == yajl_gen_status_ok) ? 0 : -1;
    }

    v = apimctl_json_parse(meta->data, meta->len, err, sizeof(err));

    if (v && v->type == yajl_t_object && v->u.object.len == 0) {
        yajl_tree_free(v);
        return (yajl_gen_null(g) == yajl_gen_status_ok) ? 0 : -1;
    }

    if (v == NULL || v->type != yajl_t_object) {
        yajl_tree_free(v);
        fprintf(stderr, "apimctl: the metadata of %s \"%.*s\" is not a JSON "
                "object; nothing was exported\n", what, (int) name->len,
                name->data);
        ex->failed = 1;
        return -1;
    }

    rc = apimctl_json_gen_value(g, v);

    yajl_tree_free(v);

    return rc;
}


/*
 * stdout, or the file through a temporary one renamed over it, so that
 * the file is whole or untouched; mode 0600, as it holds the HMACs
 */

static int
apimctl_export_write(apimctl_ctx_t *ctx, const unsigned char *buf,
    size_t len)
{
    int    fd;
    FILE  *f;
    char  *tmp;

    /* yajl's beautified text ends with a newline already */

    if (ctx->output == NULL) {
        if (fwrite(buf, 1, len, stdout) != len) {
            fprintf(stderr, "apimctl: cannot write to stdout: %s\n",
                    strerror(errno));
            return APIMCTL_FAILED;
        }

        return APIMCTL_OK;
    }

    tmp = malloc(strlen(ctx->output) + sizeof(".XXXXXX"));
    if (tmp == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    sprintf(tmp, "%s.XXXXXX", ctx->output);

    fd = mkstemp(tmp);
    if (fd == -1) {
        fprintf(stderr, "apimctl: cannot create a file beside %s: %s\n",
                apimctl_quote(ctx->output), strerror(errno));
        free(tmp);
        return APIMCTL_FAILED;
    }

    f = fdopen(fd, "w");

    if (f == NULL
        || fwrite(buf, 1, len, f) != len
        || fflush(f) != 0
        || fsync(fd) != 0
        || fclose(f) != 0
        || rename(tmp, ctx->output) != 0)
    {
        fprintf(stderr, "apimctl: cannot write %s: %s\n",
                apimctl_quote(ctx->output), strerror(errno));

        if (f) {
            (void) fclose(f);

        } else {
            (void) close(fd);
        }

        (void) unlink(tmp);
        free(tmp);
        return APIMCTL_FAILED;
    }

    free(tmp);

    return APIMCTL_OK;
}


static int
apimctl_gen_key(yajl_gen g, const char *key)
{
    return (yajl_gen_string(g, (const unsigned char *) key, strlen(key))
            == yajl_gen_status_ok) ? 0 : -1;
}


static int
apimctl_gen_str(yajl_gen g, const char *key, const char *s, size_t len)
{
    if (apimctl_gen_key(g, key) != 0
        || yajl_gen_string(g, (const unsigned char *) s, len)
           != yajl_gen_status_ok)
    {
        return -1;
    }

    return 0;
}


/* an empty string is null: "the consumer's plan", "the plan's APIs" */

static int
apimctl_gen_opt(yajl_gen g, const char *key, const ngx_apim_str_t *s)
{
    if (s->len) {
        return apimctl_gen_str(g, key, s->data, s->len);
    }

    if (apimctl_gen_key(g, key) != 0
        || yajl_gen_null(g) != yajl_gen_status_ok)
    {
        return -1;
    }

    return 0;
}


static int
apimctl_gen_int(yajl_gen g, const char *key, int64_t n)
{
    if (apimctl_gen_key(g, key) != 0
        || yajl_gen_integer(g, (long long) n) != yajl_gen_status_ok)
    {
        return -1;
    }

    return 0;
}


/* RFC 3339 in UTC; 0 ("none") is null */

static int
apimctl_gen_time(yajl_gen g, const char *key, int64_t t)
{
    char  buf[APIMCTL_TIME_LEN];

    if (apimctl_gen_key(g, key) != 0) {
        return -1;
    }

    if (t == 0 || apimctl_time(t, buf)[0] == '-') {
        return (yajl_gen_null(g) == yajl_gen_status_ok) ? 0 : -1;
    }

    return (yajl_gen_string(g, (const unsigned char *) buf, strlen(buf))
            == yajl_gen_status_ok) ? 0 : -1;
}
