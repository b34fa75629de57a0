
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's JSON, all of it with yajl: parsing a text into a tree,
 * writing a tree back with a generator, and the metadata of consumers
 * and keys (a JSON object kept as compact text in the records): the
 * merge an update makes of its --meta pairs, and the one compact form
 * two texts are compared in.
 */


#include "apimctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int apimctl_meta_set(yajl_gen g, yajl_val obj, apimctl_ctx_t *ctx);


/* the text needs no terminating zero; err gets yajl's reason */

yajl_val
apimctl_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    char      *buf;
    yajl_val   v;

    if (memchr(text, '\0', len) != NULL) {
        snprintf(err, errlen, "a zero byte in the text");
        return NULL;
    }

    buf = malloc(len + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    memcpy(buf, text, len);
    buf[len] = '\0';

    err[0] = '\0';
    v = yajl_tree_parse(buf, err, errlen);

    free(buf);

    if (v == NULL && err[0] == '\0') {
        snprintf(err, errlen, "out of memory");
    }

    return v;
}


int
apimctl_json_gen_value(yajl_gen g, yajl_val v)
{
    size_t            i;
    const char       *s;
    yajl_gen_status   rc;

    switch (v->type) {

    case yajl_t_string:
        s = v->u.string;
        rc = yajl_gen_string(g, (const unsigned char *) s, strlen(s));
        break;

    case yajl_t_number:
        s = v->u.number.r;
        rc = yajl_gen_number(g, s, strlen(s));
        break;

    case yajl_t_object:
        rc = yajl_gen_map_open(g);

        for (i = 0; rc == yajl_gen_status_ok && i < v->u.object.len; i++) {
            s = v->u.object.keys[i];
            rc = yajl_gen_string(g, (const unsigned char *) s, strlen(s));

            if (rc == yajl_gen_status_ok
                && apimctl_json_gen_value(g, v->u.object.values[i]) != 0)
            {
                return -1;
            }
        }

        if (rc == yajl_gen_status_ok) {
            rc = yajl_gen_map_close(g);
        }

        break;

    case yajl_t_array:
        rc = yajl_gen_array_open(g);

        for (i = 0; rc == yajl_gen_status_ok && i < v->u.array.len; i++) {
            if (apimctl_json_gen_value(g, v->u.array.values[i]) != 0) {
                return -1;
            }
        }

        if (rc == yajl_gen_status_ok) {
            rc = yajl_gen_array_close(g);
        }

        break;

    case yajl_t_true:
        rc = yajl_gen_bool(g, 1);
        break;

    case yajl_t_false:
        rc = yajl_gen_bool(g, 0);
        break;

    default:
        rc = yajl_gen_null(g);
        break;
    }

    return (rc == yajl_gen_status_ok) ? 0 : -1;
}


/*
 * The generator's text, copied into a malloc()ed buffer; an empty
 * object gives an empty text, as records keep "no metadata".
 */

int
apimctl_json_take(yajl_gen g, char **out, size_t *len)
{
    size_t                n;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok) {
        return -1;
    }

    if (n == 2 && buf[0] == '{' && buf[1] == '}') {
        n = 0;
    }

    *out = malloc(n + 1);
    if (*out == NULL) {
        return -1;
    }

    memcpy(*out, buf, n);
    (*out)[n] = '\0';
    *len = n;

    return 0;
}


/*
 * Metadata in its compact form (yajl's own escaping), so that texts
 * written by apimctl, by the admin API or by an import compare equal
 * when they say the same; -1 for a text that is not a JSON object.
 */

int
apimctl_meta_normalize(const ngx_apim_str_t *in, char **out, size_t *len)
{
    int        rc;
    char       err[128];
    yajl_gen   g;
    yajl_val   v;

    if (in->len == 0) {
        *out = NULL;
        *len = 0;
        return 0;
    }

    v = apimctl_json_parse(in->data, in->len, err, sizeof(err));

    if (v == NULL || v->type != yajl_t_object) {
        yajl_tree_free(v);
        return -1;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        yajl_tree_free(v);
        return -1;
    }

    rc = apimctl_json_gen_value(g, v);

    if (rc == 0) {
        rc = apimctl_json_take(g, out, len);
    }

    yajl_gen_free(g);
    yajl_tree_free(v);

    return rc;
}


/*
 * An update's --meta pairs merged into the metadata a record has: a pair
 * sets its key (in place when present, else at the end), and a pair with
 * an empty value removes its key; other keys are kept as they are.
 */

int
apimctl_meta_merge(apimctl_ctx_t *ctx, const ngx_apim_str_t *old,
    char **out, size_t *len)
{
    int        rc;
    char       err[128];
    yajl_gen   g;
    yajl_val   v;

    v = NULL;

    if (old->len) {
        v = apimctl_json_parse(old->data, old->len, err, sizeof(err));

        if (v == NULL || v->type != yajl_t_object) {
            yajl_tree_free(v);
            fprintf(stderr, "apimctl: the metadata in the record is not a "
                    "JSON object\n");
            return APIMCTL_FAILED;
        }
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        yajl_tree_free(v);
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    rc = apimctl_meta_set(g, v, ctx);

    if (rc == 0) {
        rc = apimctl_json_take(g, out, len);
    }

    yajl_gen_free(g);
    yajl_tree_free(v);

    if (rc != 0) {
        fprintf(stderr, "apimctl: cannot make the metadata\n");
        return APIMCTL_FAILED;
    }

    if (*len > APIMCTL_METADATA_MAX) {
        fprintf(stderr, "apimctl: the metadata would be too long: %zu bytes "
                "of JSON, the most is %d\n", *len, APIMCTL_METADATA_MAX);
        free(*out);
        *out = NULL;
        return APIMCTL_FAILED;
    }

    return APIMCTL_OK;
}


static int
apimctl_meta_set(yajl_gen g, yajl_val obj, apimctl_ctx_t *ctx)
{
    size_t           i, n;
    unsigned         k;
    const char      *key, *value;
    yajl_gen_status  rc;
    unsigned char    done[APIMCTL_META_MAX];

    memset(done, 0, sizeof(done));

    rc = yajl_gen_map_open(g);
    n = obj ? obj->u.object.len : 0;

    for (i = 0; rc == yajl_gen_status_ok && i < n; i++) {
        key = obj->u.object.keys[i];

        for (k = 0; k < ctx->nmeta; k++) {
            if (strcmp(ctx->meta[k].key, key) == 0) {
                break;
            }
        }

        if (k == ctx->nmeta) {
            rc = yajl_gen_string(g, (const unsigned char *) key, strlen(key));

            if (rc == yajl_gen_status_ok
                && apimctl_json_gen_value(g, obj->u.object.values[i]) != 0)
            {
                return -1;
            }

            continue;
        }

        if (done[k]) {
            /* a key twice in the record: the pair replaces it once */
            continue;
        }

        done[k] = 1;
        value = ctx->meta[k].value;

        if (value[0] == '\0') {
            continue;
        }

        rc = yajl_gen_string(g, (const unsigned char *) key, strlen(key));

        if (rc == yajl_gen_status_ok) {
            rc = yajl_gen_string(g, (const unsigned char *) value,
                                 strlen(value));
        }
    }

    for (k = 0; rc == yajl_gen_status_ok && k < ctx->nmeta; k++) {
        key = ctx->meta[k].key;
        value = ctx->meta[k].value;

        if (done[k] || value[0] == '\0') {
            continue;
        }

        rc = yajl_gen_string(g, (const unsigned char *) key, strlen(key));

        if (rc == yajl_gen_status_ok) {
            rc = yajl_gen_string(g, (const unsigned char *) value,
                                 strlen(value));
        }
    }

    if (rc == yajl_gen_status_ok) {
        rc = yajl_gen_map_close(g);
    }

    return (rc == yajl_gen_status_ok) ? 0 : -1;
}
