
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's import command: makes the store hold the state an export
 * file describes.  The whole file is parsed (yajl) and checked first,
 * every field of every record, so that a bad file is named by its field
 * and changes nothing; then one write transaction sets each consumer,
 * key record and usage the file holds, writing only what differs, so
 * that importing the same file twice changes nothing the second time.
 * The file wins: a key revoked here comes back, an id or HMAC the file
 * gives another key moves to it.  Records the file lacks stay, unless
 * --prune deletes them.  The HMACs are only good under the secret they
 * were made with, so a file of another secret is refused.
 */


#include "apimctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define APIMCTL_IMPORT_ERRLEN     512


typedef struct {
    ngx_apim_consumer_rec_t    rec;
    char                      *meta;
} apimctl_import_consumer_t;


typedef struct {
    ngx_apim_key_rec_t         rec;
    unsigned char              hash[NGX_APIM_HASH_LEN];
    ngx_apim_usage_rec_t       usage;        /* zero: no usage */
    int                        has_usage;
    char                      *apis;
    char                      *meta;
} apimctl_import_key_t;


typedef struct {
    apimctl_ctx_t             *ctx;
    const char                *file;
    yajl_val                   root;

    apimctl_import_consumer_t *consumers;
    size_t                     nconsumers;
    apimctl_import_key_t      *keys;
    size_t                     nkeys;

    /* sorted, for lookups and duplicates */
    const char               **names;
    const char               **ids;

    size_t                     consumers_changed;
    size_t                     keys_changed;
    size_t                     usage_changed;
    size_t                     removed;

    char                       err[APIMCTL_IMPORT_ERRLEN];
} apimctl_import_t;


static int apimctl_import_read(apimctl_import_t *im, char **text,
    size_t *len);
static int apimctl_import_parse(apimctl_import_t *im);
static int apimctl_import_consumer(apimctl_import_t *im, size_t i,
    yajl_val obj);
static int apimctl_import_key(apimctl_import_t *im, size_t i, yajl_val obj);
static int apimctl_import_usage(apimctl_import_t *im, const char *path,
    yajl_val obj, ngx_apim_usage_rec_t *u);
static int apimctl_import_fields(apimctl_import_t *im, const char *path,
    yajl_val obj, const char **names, unsigned required, yajl_val *vals);
static int apimctl_import_name(apimctl_import_t *im, const char *path,
    const char *field, yajl_val v, int null, ngx_apim_str_t *s);
static int apimctl_import_time(apimctl_import_t *im, const char *path,
    const char *field, yajl_val v, int64_t *t);
static int apimctl_import_int(apimctl_import_t *im, const char *path,
    const char *field, yajl_val v, int64_t max, int64_t *n);
static int apimctl_import_meta(apimctl_import_t *im, const char *path,
    yajl_val v, char **meta, ngx_apim_str_t *s);
static int apimctl_import_apis(apimctl_import_t *im, const char *path,
    yajl_val v, char **apis, ngx_apim_str_t *s);
static int apimctl_import_hex(const char *s,
    unsigned char hash[NGX_APIM_HASH_LEN]);
static int apimctl_import_sort(apimctl_import_t *im);
static int apimctl_strcmp(const void *a, const void *b);
static int apimctl_import_hashcmp(const void *a, const void *b);
static int apimctl_import_has(const char **set, size_t n, const void *s,
    size_t len);
static int apimctl_import_fail(apimctl_import_t *im, const char *fmt, ...);

static int apimctl_import_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int apimctl_import_prune(apimctl_import_t *im, ngx_apim_store_t *st,
    MDB_txn *txn);
static int apimctl_import_set_consumer(apimctl_import_t *im,
    ngx_apim_store_t *st, MDB_txn *txn, apimctl_import_consumer_t *c);
static int apimctl_import_set_key(apimctl_import_t *im, ngx_apim_store_t *st,
    MDB_txn *txn, apimctl_import_key_t *k, size_t i);
static int apimctl_import_set_usage(apimctl_import_t *im,
    ngx_apim_store_t *st, MDB_txn *txn, apimctl_import_key_t *k);
static unsigned char *apimctl_import_key_bytes(const ngx_apim_key_rec_t *rec,
    size_t *size);


static const char  *apimctl_import_top[] = {
    "format", "schema", "secret_fp", "consumers", "keys", NULL
};

static const char  *apimctl_import_consumer_fields[] = {
    "name", "id", "plan", "created", "flags", "metadata", NULL
};

static const char  *apimctl_import_key_fields[] = {
    "id", "hmac", "consumer", "plan", "apis", "created", "not_before",
    "expires_at", "flags", "metadata", "usage", NULL
};

static const char  *apimctl_import_usage_fields[] = {
    "window_start", "window_end", "count", "tat", NULL
};


int
apimctl_import(apimctl_ctx_t *ctx)
{
    int               rc;
    char             *text;
    size_t            len, i;
    apimctl_import_t  im;

    memset(&im, 0, sizeof(apimctl_import_t));

    im.ctx = ctx;
    im.file = strcmp(ctx->arg, "-") == 0 ? "stdin" : ctx->arg;

    rc = apimctl_import_read(&im, &text, &len);
    if (rc != APIMCTL_OK) {
        return rc;
    }

    im.root = apimctl_json_parse(text, len, im.err, sizeof(im.err));

    free(text);

    if (im.root == NULL) {
        /* yajl's first line: the reason, without the text around it */

        for (i = 0; im.err[i] && im.err[i] != '\n'; i++) { /* void */ }

        while (i && im.err[i - 1] == ' ') {
            i--;
        }

        im.err[i] = '\0';

        fprintf(stderr, "apimctl: %s is not JSON: %s; nothing was "
                "imported\n", apimctl_quote(im.file), im.err);
        return APIMCTL_FAILED;
    }

    rc = apimctl_import_parse(&im);

    if (rc == APIMCTL_OK) {
        rc = ngx_apim_store_write(&ctx->st, apimctl_import_handler, &im);

        if (rc == APIMCTL_FAILED) {
            fprintf(stderr, "apimctl: %s: %s; nothing was imported\n",
                    apimctl_quote(im.file), im.err);

        } else if (rc != NGX_APIM_STORE_OK) {
            rc = apimctl_store_error(ctx, rc);
            fprintf(stderr, "apimctl: nothing was imported\n");

        } else {
            printf("consumers_changed: %zu\nkeys_changed: %zu\n"
                   "usage_changed: %zu\nremoved: %zu\nchanged: %zu\n",
                   im.consumers_changed, im.keys_changed, im.usage_changed,
                   im.removed,
                   im.consumers_changed + im.keys_changed + im.usage_changed
                   + im.removed);
        }
    }

    for (i = 0; i < im.nconsumers; i++) {
        free(im.consumers[i].meta);
    }

    for (i = 0; i < im.nkeys; i++) {
        free(im.keys[i].apis);
        free(im.keys[i].meta);
    }

    free(im.consumers);
    free(im.keys);
    free(im.names);
    free(im.ids);
    yajl_tree_free(im.root);

    return rc;
}


static int
apimctl_import_read(apimctl_import_t *im, char **text, size_t *len)
{
    FILE    *f;
    char    *buf, *p;
    size_t   n, cap;

    if (strcmp(im->ctx->arg, "-") == 0) {
        f = stdin;

    } else {
        f = fopen(im->ctx->arg, "r");
        if (f == NULL) {
            fprintf(stderr, "apimctl: cannot open %s: %s\n",
                    apimctl_quote(im->ctx->arg), strerror(errno));
            return APIMCTL_FAILED;
        }
    }

    buf = NULL;
    cap = 0;
    n = 0;

    for ( ;; ) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;

            p = realloc(buf, cap);
            if (p == NULL) {
                fprintf(stderr, "apimctl: out of memory\n");
                goto failed;
            }

            buf = p;
        }

        n += fread(buf + n, 1, cap - n, f);

        if (n < cap) {
            break;
        }
    }

    if (ferror(f)) {
        fprintf(stderr, "apimctl: cannot read %s: %s\n",
                apimctl_quote(im->file), strerror(errno));
        goto failed;
    }

    if (f != stdin) {
        fclose(f);
    }

    *text = buf;
    *len = n;

    return APIMCTL_OK;

failed:

    if (f != stdin) {
        fclose(f);
    }

    free(buf);

    return APIMCTL_FAILED;
}


/* every check that needs no store; the message names the field */

static int
apimctl_import_parse(apimctl_import_t *im)
{
    int         rc;
    char        fp[NGX_APIM_FP_LEN + 1];
    size_t      i;
    yajl_val    v[6], a;
    const char *s;

    rc = apimctl_import_fields(im, "the file", im->root, apimctl_import_top,
                               0x1f, v);
    if (rc != APIMCTL_OK) {
        goto failed;
    }

    s = YAJL_GET_STRING(v[0]);

    if (s == NULL || strcmp(s, APIMCTL_EXPORT_FORMAT) != 0) {
        apimctl_import_fail(im, "format: not \"" APIMCTL_EXPORT_FORMAT
                            "\" (not a file of apimctl export)");
        goto failed;
    }

    s = YAJL_GET_STRING(v[1]);

    if (s == NULL || strcmp(s, NGX_APIM_STORE_SCHEMA) != 0) {
        apimctl_import_fail(im, "schema: %s, this apimctl writes \""
                            NGX_APIM_STORE_SCHEMA "\"",
                            s ? apimctl_quote(s) : "not a string");
        goto failed;
    }

    ngx_apim_secret_fingerprint(&im->ctx->hmac, fp);

    s = YAJL_GET_STRING(v[2]);

    if (s == NULL) {
        apimctl_import_fail(im, "secret_fp: not a string");
        goto failed;
    }

    if (strcmp(s, fp) != 0) {
        fprintf(stderr, "apimctl: \"%s\" was exported from a store whose "
                "secret has the fingerprint %s, and this store's secret has "
                "\"%s\": its HMACs would match no key here; give --secret "
                "the secret file of the store it came from; nothing was "
                "imported\n", im->file, apimctl_quote(s), fp);
        return APIMCTL_FAILED;
    }

    if (!YAJL_IS_ARRAY(v[3])) {
        apimctl_import_fail(im, "consumers: not an array");
        goto failed;
    }

    if (!YAJL_IS_ARRAY(v[4])) {
        apimctl_import_fail(im, "keys: not an array");
        goto failed;
    }

    a = v[3];
    im->consumers = calloc(a->u.array.len + 1,
                           sizeof(apimctl_import_consumer_t));

    a = v[4];
    im->keys = calloc(a->u.array.len + 1, sizeof(apimctl_import_key_t));

    if (im->consumers == NULL || im->keys == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    a = v[3];

    for (i = 0; i < a->u.array.len; i++) {
        rc = apimctl_import_consumer(im, i, a->u.array.values[i]);
        im->nconsumers++;

        if (rc != APIMCTL_OK) {
            goto failed;
        }
    }

    a = v[4];

    for (i = 0; i < a->u.array.len; i++) {
        rc = apimctl_import_key(im, i, a->u.array.values[i]);
        im->nkeys++;

        if (rc != APIMCTL_OK) {
            goto failed;
        }
    }

    if (apimctl_import_sort(im) == APIMCTL_OK) {
        return APIMCTL_OK;
    }

failed:

    if (im->err[0]) {
        fprintf(stderr, "apimctl: %s: %s; nothing was imported\n",
                apimctl_quote(im->file), im->err);
    }

    return APIMCTL_FAILED;
}


static int
apimctl_import_consumer(apimctl_import_t *im, size_t i, yajl_val obj)
{
    int64_t                     n;
    yajl_val                    v[6];
    const char                 *s;
    char                        path[64];
    apimctl_import_consumer_t  *c;

    c = &im->consumers[i];
    n = 0;

    snprintf(path, sizeof(path), "consumers[%zu]", i);

    if (apimctl_import_fields(im, path, obj, apimctl_import_consumer_fields,
                              0x0f, v) != APIMCTL_OK
        || apimctl_import_name(im, path, "name", v[0], 0, &c->rec.name)
           != APIMCTL_OK
        || apimctl_import_name(im, path, "plan", v[2], 0, &c->rec.plan)
           != APIMCTL_OK
        || apimctl_import_time(im, path, "created", v[3], &c->rec.created)
           != APIMCTL_OK
        || apimctl_import_int(im, path, "flags", v[4], UINT32_MAX, &n)
           != APIMCTL_OK
        || apimctl_import_meta(im, path, v[5], &c->meta, &c->rec.metadata)
           != APIMCTL_OK)
    {
        return APIMCTL_FAILED;
    }

    c->rec.flags = (uint32_t) n;

    s = YAJL_GET_STRING(v[1]);

    if (s == NULL || !apimctl_id_valid(s)) {
        return apimctl_import_fail(im, "%s.id: not a consumer id (\"c_\" "
                                   "and 11 letters or digits)", path);
    }

    c->rec.id.data = s;
    c->rec.id.len = strlen(s);

    return APIMCTL_OK;
}


static int
apimctl_import_key(apimctl_import_t *im, size_t i, yajl_val obj)
{
    int64_t                n;
    yajl_val               v[11];
    const char            *s;
    char                   path[64];
    apimctl_import_key_t  *k;

    k = &im->keys[i];
    n = 0;

    snprintf(path, sizeof(path), "keys[%zu]", i);

    if (apimctl_import_fields(im, path, obj, apimctl_import_key_fields,
                              0x027, v) != APIMCTL_OK)
    {
        return APIMCTL_FAILED;
    }

    s = YAJL_GET_STRING(v[0]);

    if (s == NULL || !apimctl_id_valid(s)) {
        return apimctl_import_fail(im, "%s.id: not a key id (\"ak_\" or "
                                   "\"ik_\" and 11 letters or digits)",
                                   path);
    }

    k->rec.id.data = s;
    k->rec.id.len = strlen(s);

    s = YAJL_GET_STRING(v[1]);

    if (s == NULL || apimctl_import_hex(s, k->hash) != 0) {
        return apimctl_import_fail(im, "%s.hmac: not 64 hex digits", path);
    }

    if (apimctl_import_name(im, path, "consumer", v[2], 0, &k->rec.consumer)
        != APIMCTL_OK
        || apimctl_import_name(im, path, "plan", v[3], 1, &k->rec.plan)
           != APIMCTL_OK
        || apimctl_import_apis(im, path, v[4], &k->apis, &k->rec.apis)
           != APIMCTL_OK
        || apimctl_import_time(im, path, "created", v[5], &k->rec.created)
           != APIMCTL_OK
        || apimctl_import_time(im, path, "not_before", v[6],
                               &k->rec.not_before) != APIMCTL_OK
        || apimctl_import_time(im, path, "expires_at", v[7],
                               &k->rec.expires_at) != APIMCTL_OK
        || apimctl_import_int(im, path, "flags", v[8], UINT32_MAX, &n)
           != APIMCTL_OK
        || apimctl_import_meta(im, path, v[9], &k->meta, &k->rec.metadata)
           != APIMCTL_OK)
    {
        return APIMCTL_FAILED;
    }

    k->rec.flags = (uint32_t) n;

    if (k->rec.not_before && k->rec.expires_at
        && k->rec.not_before >= k->rec.expires_at)
    {
        return apimctl_import_fail(im, "%s.not_before: not before "
                                   "expires_at", path);
    }

    if (v[10] && !YAJL_IS_NULL(v[10])) {
        strcat(path, ".usage");
        k->has_usage = 1;
        return apimctl_import_usage(im, path, v[10], &k->usage);
    }

    return APIMCTL_OK;
}


static int
apimctl_import_usage(apimctl_import_t *im, const char *path, yajl_val obj,
    ngx_apim_usage_rec_t *u)
{
    yajl_val  v[4];

    if (apimctl_import_fields(im, path, obj, apimctl_import_usage_fields,
                              0x0f, v) != APIMCTL_OK
        || apimctl_import_time(im, path, "window_start", v[0],
                               &u->window_start) != APIMCTL_OK
        || apimctl_import_time(im, path, "window_end", v[1], &u->window_end)
           != APIMCTL_OK
        || apimctl_import_int(im, path, "count", v[2], INT64_MAX, &u->count)
           != APIMCTL_OK
        || apimctl_import_int(im, path, "tat", v[3], INT64_MAX, &u->tat)
           != APIMCTL_OK)
    {
        return APIMCTL_FAILED;
    }

    return APIMCTL_OK;
}


/*
 * An object's fields by name into vals (NULL when absent); an unknown
 * field, a field twice, or a missing required one (a bit per name) is
 * an error.
 */

static int
apimctl_import_fields(apimctl_import_t *im, const char *path, yajl_val obj,
    const char **names, unsigned required, yajl_val *vals)
{
    size_t       i, k;
    const char  *key;

    if (!YAJL_IS_OBJECT(obj)) {
        return apimctl_import_fail(im, "%s: not an object", path);
    }

    for (k = 0; names[k]; k++) {
        vals[k] = NULL;
    }

    for (i = 0; i < obj->u.object.len; i++) {
        key = obj->u.object.keys[i];

        for (k = 0; names[k]; k++) {
            if (strcmp(names[k], key) == 0) {
                break;
            }
        }

        if (names[k] == NULL) {
            return apimctl_import_fail(im, "%s: unknown field %s", path,
                                       apimctl_quote(key));
        }

        if (vals[k]) {
            return apimctl_import_fail(im, "%s.%s: given twice", path, key);
        }

        vals[k] = obj->u.object.values[i];
    }

    for (k = 0; names[k]; k++) {
        if ((required & (1u << k)) && vals[k] == NULL) {
            return apimctl_import_fail(im, "%s: no field \"%s\"", path,
                                       names[k]);
        }
    }

    return APIMCTL_OK;
}


static int
apimctl_import_name(apimctl_import_t *im, const char *path,
    const char *field, yajl_val v, int null, ngx_apim_str_t *s)
{
    const char  *p;

    if (null && (v == NULL || YAJL_IS_NULL(v))) {
        s->data = NULL;
        s->len = 0;
        return APIMCTL_OK;
    }

    p = YAJL_GET_STRING(v);

    if (p == NULL || !ngx_apim_name_valid(p, strlen(p))) {
        return apimctl_import_fail(im, "%s.%s: not a name (1 to 64 "
                                   "characters of A-Z a-z 0-9 . _ -)%s",
                                   path, field, null ? " or null" : "");
    }

    s->data = p;
    s->len = strlen(p);

    return APIMCTL_OK;
}


static int
apimctl_import_time(apimctl_import_t *im, const char *path,
    const char *field, yajl_val v, int64_t *t)
{
    const char  *s;

    if (v == NULL || YAJL_IS_NULL(v)) {
        *t = 0;
        return APIMCTL_OK;
    }

    s = YAJL_GET_STRING(v);

    if (s == NULL || apimctl_parse_rfc3339(s, t) != 0) {
        return apimctl_import_fail(im, "%s.%s: not an RFC 3339 time or "
                                   "null", path, field);
    }

    return APIMCTL_OK;
}


static int
apimctl_import_int(apimctl_import_t *im, const char *path,
    const char *field, yajl_val v, int64_t max, int64_t *n)
{
    if (v == NULL) {
        *n = 0;
        return APIMCTL_OK;
    }

    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0
        || YAJL_GET_INTEGER(v) > max)
    {
        return apimctl_import_fail(im, "%s.%s: not an integer from 0 to "
                                   "%lld", path, field, (long long) max);
    }

    *n = YAJL_GET_INTEGER(v);

    return APIMCTL_OK;
}


static int
apimctl_import_meta(apimctl_import_t *im, const char *path, yajl_val v,
    char **meta, ngx_apim_str_t *s)
{
    int       rc;
    size_t    len;
    yajl_gen  g;

    s->data = NULL;
    s->len = 0;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return APIMCTL_OK;
    }

    if (!YAJL_IS_OBJECT(v)) {
        return apimctl_import_fail(im, "%s.metadata: not an object or null",
                                   path);
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return apimctl_import_fail(im, "out of memory");
    }

    rc = apimctl_json_gen_value(g, v);

    if (rc == 0) {
        rc = apimctl_json_take(g, meta, &len);
    }

    yajl_gen_free(g);

    if (rc != 0) {
        return apimctl_import_fail(im, "%s.metadata: cannot be written as "
                                   "JSON", path);
    }

    if (len > APIMCTL_METADATA_MAX) {
        return apimctl_import_fail(im, "%s.metadata: %zu bytes of JSON, the "
                                   "most is %d", path, len,
                                   APIMCTL_METADATA_MAX);
    }

    s->data = *meta;
    s->len = len;

    return APIMCTL_OK;
}


/* a list of names, kept as "a,b"; null for the plan's */

static int
apimctl_import_apis(apimctl_import_t *im, const char *path, yajl_val v,
    char **apis, ngx_apim_str_t *s)
{
    char        *p;
    size_t       i, n;
    const char  *name;

    s->data = NULL;
    s->len = 0;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return APIMCTL_OK;
    }

    if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0) {
        return apimctl_import_fail(im, "%s.apis: not a list of API names or "
                                   "null", path);
    }

    n = 0;

    for (i = 0; i < v->u.array.len; i++) {
        name = YAJL_GET_STRING(v->u.array.values[i]);

        if (name == NULL || !ngx_apim_name_valid(name, strlen(name))) {
            return apimctl_import_fail(im, "%s.apis[%zu]: not a name (1 to "
                                       "64 characters of A-Z a-z 0-9 . _ -)",
                                       path, i);
        }

        n += strlen(name) + 1;
    }

    *apis = malloc(n);
    if (*apis == NULL) {
        return apimctl_import_fail(im, "out of memory");
    }

    p = *apis;

    for (i = 0; i < v->u.array.len; i++) {
        name = YAJL_GET_STRING(v->u.array.values[i]);

        if (i) {
            *p++ = ',';
        }

        n = strlen(name);
        memcpy(p, name, n);
        p += n;
    }

    s->data = *apis;
    s->len = p - *apis;

    return APIMCTL_OK;
}


static int
apimctl_import_hex(const char *s, unsigned char hash[NGX_APIM_HASH_LEN])
{
    int     c, v;
    size_t  i;

    if (strlen(s) != 2 * NGX_APIM_HASH_LEN) {
        return -1;
    }

    for (i = 0; i < 2 * NGX_APIM_HASH_LEN; i++) {
        c = s[i];

        if (c >= '0' && c <= '9') {
            v = c - '0';

        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;

        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;

        } else {
            return -1;
        }

        if (i % 2 == 0) {
            hash[i / 2] = (unsigned char) (v << 4);

        } else {
            hash[i / 2] |= (unsigned char) v;
        }
    }

    return 0;
}


/* consumer names and key ids sorted; each once, each HMAC once */

static int
apimctl_import_sort(apimctl_import_t *im)
{
    size_t          i, j;
    unsigned char  *hashes;

    im->names = malloc((im->nconsumers + 1) * sizeof(char *));
    im->ids = malloc((im->nkeys + 1) * sizeof(char *));
    hashes = malloc((im->nkeys + 1) * NGX_APIM_HASH_LEN);

    if (im->names == NULL || im->ids == NULL || hashes == NULL) {
        free(hashes);
        return apimctl_import_fail(im, "out of memory");
    }

    for (i = 0; i < im->nconsumers; i++) {
        im->names[i] = im->consumers[i].rec.name.data;
    }

    for (i = 0; i < im->nkeys; i++) {
        im->ids[i] = im->keys[i].rec.id.data;
        memcpy(hashes + i * NGX_APIM_HASH_LEN, im->keys[i].hash,
               NGX_APIM_HASH_LEN);
    }

    qsort(im->names, im->nconsumers, sizeof(char *), apimctl_strcmp);
    qsort(im->ids, im->nkeys, sizeof(char *), apimctl_strcmp);
    qsort(hashes, im->nkeys, NGX_APIM_HASH_LEN, apimctl_import_hashcmp);

    for (i = 1; i < im->nconsumers; i++) {
        if (strcmp(im->names[i - 1], im->names[i]) == 0) {
            free(hashes);
            return apimctl_import_fail(im, "consumer %s is in the file "
                                       "twice", apimctl_quote(im->names[i]));
        }
    }

    for (i = 1; i < im->nkeys; i++) {
        if (strcmp(im->ids[i - 1], im->ids[i]) == 0) {
            free(hashes);
            return apimctl_import_fail(im, "key %s is in the file twice",
                                       apimctl_quote(im->ids[i]));
        }

        if (memcmp(hashes + (i - 1) * NGX_APIM_HASH_LEN,
                   hashes + i * NGX_APIM_HASH_LEN, NGX_APIM_HASH_LEN) == 0)
        {
            for (j = 0; j < im->nkeys; j++) {
                if (memcmp(im->keys[j].hash, hashes + i * NGX_APIM_HASH_LEN,
                           NGX_APIM_HASH_LEN) == 0)
                {
                    break;
                }
            }

            free(hashes);
            return apimctl_import_fail(im, "keys[%zu].hmac: another key of "
                                       "the file has it too", j);
        }
    }

    free(hashes);

    return APIMCTL_OK;
}


static int
apimctl_strcmp(const void *a, const void *b)
{
    return strcmp(*(const char **) a, *(const char **) b);
}


static int
apimctl_import_hashcmp(const void *a, const void *b)
{
    return memcmp(a, b, NGX_APIM_HASH_LEN);
}


/* s (len bytes, from the store) in the sorted set */

static int
apimctl_import_has(const char **set, size_t n, const void *s, size_t len)
{
    int     c;
    size_t  lo, hi, mid, k;

    lo = 0;
    hi = n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        k = strlen(set[mid]);

        c = memcmp(set[mid], s, k < len ? k : len);

        if (c == 0) {
            c = (k > len) - (k < len);
        }

        if (c == 0) {
            return 1;
        }

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return 0;
}


static int
apimctl_import_fail(apimctl_import_t *im, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(im->err, sizeof(im->err), fmt, args);
    va_end(args);

    return APIMCTL_FAILED;
}


/*
 * The one write transaction; it runs again if the map grows, so it
 * counts afresh.  APIMCTL_FAILED (with im->err) aborts it whole.
 */

static int
apimctl_import_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    apimctl_import_t  *im = data;

    int     rc;
    size_t  i;

    im->consumers_changed = 0;
    im->keys_changed = 0;
    im->usage_changed = 0;
    im->removed = 0;
    im->err[0] = '\0';

    if (im->ctx->prune) {
        rc = apimctl_import_prune(im, st, txn);
        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }
    }

    for (i = 0; i < im->nconsumers; i++) {
        rc = apimctl_import_set_consumer(im, st, txn, &im->consumers[i]);
        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }
    }

    for (i = 0; i < im->nkeys; i++) {
        rc = apimctl_import_set_key(im, st, txn, &im->keys[i], i);
        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }
    }

    for (i = 0; i < im->nkeys; i++) {
        rc = apimctl_import_set_usage(im, st, txn, &im->keys[i]);
        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }
    }

    return NGX_APIM_STORE_OK;
}


/* the keys, then the consumers, that the file does not hold */

static int
apimctl_import_prune(apimctl_import_t *im, ngx_apim_store_t *st,
    MDB_txn *txn)
{
    int             rc;
    MDB_val         k, v;
    MDB_cursor     *cur;
    unsigned char   hash[NGX_APIM_HASH_LEN];

    rc = mdb_cursor_open(txn, st->dbi[NGX_APIM_DB_KEY_IDS], &cur);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_open() failed");
    }

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (apimctl_import_has(im->ids, im->nkeys, k.mv_data, k.mv_size)) {
            continue;
        }

        if (v.mv_size == NGX_APIM_HASH_LEN) {
            memcpy(hash, v.mv_data, NGX_APIM_HASH_LEN);

            rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_KEYS, hash,
                                           NGX_APIM_HASH_LEN);

            if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
                mdb_cursor_close(cur);
                return rc;
            }
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != MDB_SUCCESS) {
            mdb_cursor_close(cur);
            return ngx_apim_store_fail(st, rc, "mdb_cursor_del() failed");
        }

        im->removed++;
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_get() failed");
    }

    rc = mdb_cursor_open(txn, st->dbi[NGX_APIM_DB_CONSUMERS], &cur);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_open() failed");
    }

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (apimctl_import_has(im->names, im->nconsumers, k.mv_data,
                               k.mv_size))
        {
            continue;
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != MDB_SUCCESS) {
            mdb_cursor_close(cur);
            return ngx_apim_store_fail(st, rc, "mdb_cursor_del() failed");
        }

        im->removed++;
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_get() failed");
    }

    return NGX_APIM_STORE_OK;
}


/* written only when it differs, metadata compared in its compact form */

static int
apimctl_import_set_consumer(apimctl_import_t *im, ngx_apim_store_t *st,
    MDB_txn *txn, apimctl_import_consumer_t *c)
{
    int                      rc, same;
    char                    *meta;
    size_t                   size, old_size, len;
    unsigned char           *buf, *old;
    ngx_apim_val_t           val;
    ngx_apim_consumer_rec_t  rec;

    size = ngx_apim_consumer_rec_size(&c->rec);

    buf = malloc(size);
    if (buf == NULL) {
        return apimctl_import_fail(im, "out of memory");
    }

    ngx_apim_consumer_rec_encode(&c->rec, buf);

    same = 0;

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_CONSUMERS,
                                c->rec.name.data, c->rec.name.len, &val);

    if (rc == NGX_APIM_STORE_OK
        && ngx_apim_consumer_rec_decode(&rec, val.data, val.len) == 0
        && apimctl_meta_normalize(&rec.metadata, &meta, &len) == 0)
    {
        rec.metadata.data = meta;
        rec.metadata.len = len;

        old_size = ngx_apim_consumer_rec_size(&rec);
        old = malloc(old_size);

        if (old) {
            ngx_apim_consumer_rec_encode(&rec, old);
            same = (old_size == size && memcmp(old, buf, size) == 0);
            free(old);
        }

        free(meta);

    } else if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
        free(buf);
        return rc;
    }

    rc = NGX_APIM_STORE_OK;

    if (!same) {
        rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_CONSUMERS,
                                    c->rec.name.data, c->rec.name.len, buf,
                                    size, 0);
        im->consumers_changed++;
    }

    free(buf);

    return rc;
}


/*
 * keys[HMAC] = record and key_ids[id] = HMAC as the file says: an HMAC
 * the id had before, and an id the HMAC had before, are dropped
 */

static int
apimctl_import_set_key(apimctl_import_t *im, ngx_apim_store_t *st,
    MDB_txn *txn, apimctl_import_key_t *k, size_t i)
{
    int                  rc, changed, same, id_same;
    size_t               size, old_size;
    unsigned char       *buf, *old;
    ngx_apim_val_t       val;
    ngx_apim_key_rec_t   rec;
    unsigned char        hash[NGX_APIM_HASH_LEN];
    char                 other[NGX_APIM_ID_LEN + 1];

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_CONSUMERS,
                                k->rec.consumer.data, k->rec.consumer.len,
                                &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return apimctl_import_fail(im, "keys[%zu].consumer: no consumer "
                                   "\"%.*s\" in the file or the store", i,
                                   (int) k->rec.consumer.len,
                                   k->rec.consumer.data);
    }

    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    changed = 0;
    id_same = 0;

    /* the id's HMAC before */

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEY_IDS,
                                k->rec.id.data, k->rec.id.len, &val);

    if (rc == NGX_APIM_STORE_OK) {
        if (val.len == NGX_APIM_HASH_LEN
            && memcmp(val.data, k->hash, NGX_APIM_HASH_LEN) == 0)
        {
            id_same = 1;

        } else if (val.len == NGX_APIM_HASH_LEN) {
            memcpy(hash, val.data, NGX_APIM_HASH_LEN);

            rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_KEYS, hash,
                                           NGX_APIM_HASH_LEN);

            if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
                return rc;
            }
        }

    } else if (rc != NGX_APIM_STORE_NOT_FOUND) {
        return rc;
    }

    /*
     * the HMAC's record before, compared as bytes; its usage generation
     * is kept, as nginx's cached counts go by it
     */

    same = 0;
    other[0] = '\0';
    k->rec.usage_gen = 0;

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEYS, k->hash,
                                NGX_APIM_HASH_LEN, &val);

    if (rc == NGX_APIM_STORE_OK
        && ngx_apim_key_rec_decode(&rec, val.data, val.len) == 0)
    {
        k->rec.usage_gen = rec.usage_gen;
    }

    buf = apimctl_import_key_bytes(&k->rec, &size);
    if (buf == NULL) {
        return apimctl_import_fail(im, "out of memory");
    }

    if (rc == NGX_APIM_STORE_OK
        && ngx_apim_key_rec_decode(&rec, val.data, val.len) == 0)
    {
        if ((rec.id.len != k->rec.id.len
             || memcmp(rec.id.data, k->rec.id.data, rec.id.len) != 0)
            && rec.id.len <= NGX_APIM_ID_LEN)
        {
            memcpy(other, rec.id.data, rec.id.len);
            other[rec.id.len] = '\0';
        }

        old = apimctl_import_key_bytes(&rec, &old_size);

        if (old) {
            same = (old_size == size && memcmp(old, buf, size) == 0);
            free(old);
        }

    } else if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
        free(buf);
        return rc;
    }

    if (other[0]) {
        /* the key had another id here: that id goes */

        rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_KEY_IDS, other,
                                       strlen(other));

        if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
            free(buf);
            return rc;
        }
    }

    rc = NGX_APIM_STORE_OK;

    if (!same) {
        rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEYS, k->hash,
                                    NGX_APIM_HASH_LEN, buf, size, 0);
        changed = 1;
    }

    free(buf);

    if (rc == NGX_APIM_STORE_OK && !id_same) {
        rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEY_IDS,
                                    k->rec.id.data, k->rec.id.len, k->hash,
                                    NGX_APIM_HASH_LEN, 0);
        changed = 1;
    }

    if (changed) {
        im->keys_changed++;
    }

    return rc;
}


/*
 * The file's usage when the store's differs; a key the file gives no
 * usage is left without, or set to zero when it has some here.
 */

static int
apimctl_import_set_usage(apimctl_import_t *im, ngx_apim_store_t *st,
    MDB_txn *txn, apimctl_import_key_t *k)
{
    int                   rc;
    ngx_apim_usage_rec_t  u;

    rc = apimctl_usage_get(st, txn, k->rec.id.data, k->rec.usage_gen, &u);

    if (rc == NGX_APIM_STORE_NOT_FOUND && !k->has_usage) {
        return NGX_APIM_STORE_OK;
    }

    if (rc == NGX_APIM_STORE_NOT_FOUND || rc == APIMCTL_FAILED) {
        /* none, or a damaged one: both are written */
        memset(&u, 0, sizeof(ngx_apim_usage_rec_t));
        u.count = -1;

    } else if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (u.window_start == k->usage.window_start
        && u.window_end == k->usage.window_end
        && u.count == k->usage.count
        && u.tat == k->usage.tat)
    {
        return NGX_APIM_STORE_OK;
    }

    im->usage_changed++;

    return apimctl_usage_put(st, txn, k->rec.id.data, &k->usage);
}


/* a key record as bytes, its metadata in the compact form */

static unsigned char *
apimctl_import_key_bytes(const ngx_apim_key_rec_t *rec, size_t *size)
{
    char                *meta;
    size_t               len;
    unsigned char       *buf;
    ngx_apim_key_rec_t   r;

    r = *rec;

    if (apimctl_meta_normalize(&rec->metadata, &meta, &len) != 0) {
        /* not an object: compared as it is */
        meta = NULL;

    } else {
        r.metadata.data = meta;
        r.metadata.len = len;
    }

    *size = ngx_apim_key_rec_size(&r);

    buf = malloc(*size);
    if (buf) {
        ngx_apim_key_rec_encode(&r, buf);
    }

    free(meta);

    return buf;
}
