
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Trust bundles: mesh_trust_bundle <trust-domain> <file> reads PEM CA
 * certificates, or a SPIFFE bundle in JWKS form ("keys" whose "use" is
 * "x509-svid" carry one base64 DER certificate in "x5c"), into one
 * X509_STORE per trust domain, built once at configuration time.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <yajl/yajl_tree.h>

#include "ngx_mesh_spiffe.h"
#include "ngx_http_mesh.h"
#include "ngx_http_mesh_identity_bundle.h"


/* a bundle file larger than this is a mistake, not a bundle */
#define NGX_HTTP_MESH_BUNDLE_MAX  (4 * 1024 * 1024)


static ngx_int_t ngx_http_mesh_bundle_read(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *text);
static ngx_int_t ngx_http_mesh_bundle_pem(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *text, X509_STORE *store);
static ngx_int_t ngx_http_mesh_bundle_jwks(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *text, X509_STORE *store);
static ngx_int_t ngx_http_mesh_bundle_jwk(ngx_conf_t *cf, ngx_str_t *file,
    yajl_val key, ngx_uint_t n, X509_STORE *store, ngx_uint_t *added);
static ngx_int_t ngx_http_mesh_bundle_add(ngx_conf_t *cf, ngx_str_t *file,
    X509 *x, ngx_uint_t n, X509_STORE *store);
static ngx_http_mesh_bundle_t *ngx_http_mesh_bundle_get(ngx_conf_t *cf,
    ngx_http_mesh_srv_conf_t *mscf, ngx_str_t *trust_domain);
static void ngx_http_mesh_bundle_cleanup(void *data);


char *
ngx_http_mesh_trust_bundle(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mesh_srv_conf_t *mscf = conf;

    u_char                  *p, *last;
    ngx_int_t                rc;
    ngx_str_t               *value, file, text;
    const char              *err;
    ngx_mesh_str_t           td;
    ngx_http_mesh_bundle_t  *b;

    value = cf->args->elts;

    td.len = value[1].len;
    td.data = (const char *) value[1].data;

    err = ngx_mesh_spiffe_check_trust_domain(&td);
    if (err) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid trust domain \"%V\": %s", &value[1], err);
        return NGX_CONF_ERROR;
    }

    file = value[2];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mesh_bundle_read(cf, &file, &text) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    b = ngx_http_mesh_bundle_get(cf, mscf, &value[1]);
    if (b == NULL) {
        return NGX_CONF_ERROR;
    }

    p = text.data;
    last = text.data + text.len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    if (p < last && *p == '{') {
        rc = ngx_http_mesh_bundle_jwks(cf, &file, &text, b->store);

    } else {
        rc = ngx_http_mesh_bundle_pem(cf, &file, &text, b->store);
    }

    return rc == NGX_OK ? NGX_CONF_OK : NGX_CONF_ERROR;
}


X509_STORE *
ngx_http_mesh_bundle_find(ngx_array_t *bundles, ngx_str_t *trust_domain)
{
    ngx_uint_t               i;
    ngx_http_mesh_bundle_t  *b;

    if (bundles == NULL) {
        return NULL;
    }

    b = bundles->elts;

    for (i = 0; i < bundles->nelts; i++) {
        if (b[i].trust_domain.len == trust_domain->len
            && ngx_strncmp(b[i].trust_domain.data, trust_domain->data,
                           trust_domain->len) == 0)
        {
            return b[i].store;
        }
    }

    return NULL;
}


/* the whole file, NUL-terminated for yajl, in cf->temp_pool */

static ngx_int_t
ngx_http_mesh_bundle_read(ngx_conf_t *cf, ngx_str_t *file, ngx_str_t *text)
{
    off_t            size;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    fd = ngx_open_file(file->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "mesh_trust_bundle \"%V\" cannot be opened", file);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "mesh_trust_bundle \"%V\": "
                           ngx_fd_info_n " failed", file);
        goto failed;
    }

    size = ngx_file_size(&fi);

    if (size > NGX_HTTP_MESH_BUNDLE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\" is larger than 4m",
                           file);
        goto failed;
    }

    text->data = ngx_pnalloc(cf->temp_pool, (size_t) size + 1);
    if (text->data == NULL) {
        goto failed;
    }

    n = ngx_read_fd(fd, text->data, (size_t) size);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "mesh_trust_bundle \"%V\": "
                           ngx_read_fd_n " failed", file);
        goto failed;
    }

    text->len = n;
    text->data[n] = '\0';

    ngx_close_file(fd);

    return NGX_OK;

failed:

    ngx_close_file(fd);

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_mesh_bundle_pem(ngx_conf_t *cf, ngx_str_t *file, ngx_str_t *text,
    X509_STORE *store)
{
    X509           *x;
    BIO            *bio;
    ngx_int_t       rc;
    ngx_uint_t      n;
    unsigned long   err;

    bio = BIO_new_mem_buf(text->data, (int) text->len);
    if (bio == NULL) {
        return NGX_ERROR;
    }

    ERR_clear_error();

    for (n = 0; /* void */; n++) {
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

        if (x == NULL) {
            break;
        }

        rc = ngx_http_mesh_bundle_add(cf, file, x, n + 1, store);

        X509_free(x);

        if (rc != NGX_OK) {
            BIO_free(bio);
            return NGX_ERROR;
        }
    }

    BIO_free(bio);

    err = ERR_peek_last_error();
    ERR_clear_error();

    if (ERR_GET_LIB(err) != ERR_LIB_PEM
        || ERR_GET_REASON(err) != PEM_R_NO_START_LINE)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": certificate %ui "
                           "is not valid PEM", file, n + 1);
        return NGX_ERROR;
    }

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": no certificate found",
                           file);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mesh_bundle_jwks(ngx_conf_t *cf, ngx_str_t *file, ngx_str_t *text,
    X509_STORE *store)
{
    size_t       i;
    yajl_val     root, keys;
    ngx_int_t    rc;
    ngx_uint_t   added;
    const char  *path[] = { "keys", NULL };

    root = yajl_tree_parse((const char *) text->data, NULL, 0);
    if (root == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": invalid JSON", file);
        return NGX_ERROR;
    }

    keys = yajl_tree_get(root, path, yajl_t_array);
    if (keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": no \"keys\" array",
                           file);
        yajl_tree_free(root);
        return NGX_ERROR;
    }

    added = 0;
    rc = NGX_OK;

    for (i = 0; i < keys->u.array.len; i++) {
        rc = ngx_http_mesh_bundle_jwk(cf, file, keys->u.array.values[i], i + 1,
                                      store, &added);
        if (rc != NGX_OK) {
            break;
        }
    }

    yajl_tree_free(root);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (added == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": no \"x509-svid\" key",
                           file);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* one JWK; keys for other uses ("jwt-svid") are skipped */

static ngx_int_t
ngx_http_mesh_bundle_jwk(ngx_conf_t *cf, ngx_str_t *file, yajl_val key,
    ngx_uint_t n, X509_STORE *store, ngx_uint_t *added)
{
    X509           *x;
    yajl_val        use, x5c, b64;
    ngx_int_t       rc;
    ngx_str_t       src, der;
    const u_char   *p;
    const char     *use_path[] = { "use", NULL };
    const char     *x5c_path[] = { "x5c", NULL };

    if (!YAJL_IS_OBJECT(key)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": key %ui is not "
                           "an object", file, n);
        return NGX_ERROR;
    }

    use = yajl_tree_get(key, use_path, yajl_t_string);
    if (use == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": key %ui has no \"use\"",
                           file, n);
        return NGX_ERROR;
    }

    if (ngx_strcmp(use->u.string, "x509-svid") != 0) {
        return NGX_OK;
    }

    x5c = yajl_tree_get(key, x5c_path, yajl_t_array);

    if (x5c == NULL || x5c->u.array.len != 1
        || !YAJL_IS_STRING(x5c->u.array.values[0]))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": key %ui: \"x5c\" must "
                           "hold exactly one certificate", file, n);
        return NGX_ERROR;
    }

    b64 = x5c->u.array.values[0];

    src.data = (u_char *) b64->u.string;
    src.len = ngx_strlen(src.data);

    der.data = ngx_pnalloc(cf->temp_pool, ngx_base64_decoded_length(src.len));
    if (der.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64(&der, &src) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": key %ui: \"x5c\" is "
                           "not base64", file, n);
        return NGX_ERROR;
    }

    p = der.data;

    x = d2i_X509(NULL, &p, der.len);

    if (x == NULL || p != der.data + der.len) {
        ERR_clear_error();
        X509_free(x);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": key %ui: \"x5c\" is "
                           "not a DER certificate", file, n);
        return NGX_ERROR;
    }

    rc = ngx_http_mesh_bundle_add(cf, file, x, n, store);

    X509_free(x);

    if (rc == NGX_OK) {
        (*added)++;
    }

    return rc;
}


/* n: the certificate's number in a PEM file, the key's in a JWKS */

static ngx_int_t
ngx_http_mesh_bundle_add(ngx_conf_t *cf, ngx_str_t *file, X509 *x,
    ngx_uint_t n, X509_STORE *store)
{
    unsigned long  err;

    if (X509_check_ca(x) < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": certificate %ui is "
                           "not a CA", file, n);
        return NGX_ERROR;
    }

    if (X509_STORE_add_cert(store, x) != 1) {
        err = ERR_peek_last_error();
        ERR_clear_error();

        /* the same anchor twice is harmless */

        if (ERR_GET_REASON(err) == X509_R_CERT_ALREADY_IN_HASH_TABLE) {
            return NGX_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mesh_trust_bundle \"%V\": X509_STORE_add_cert() "
                           "failed", file);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the trust domain's bundle, made on its first mesh_trust_bundle */

static ngx_http_mesh_bundle_t *
ngx_http_mesh_bundle_get(ngx_conf_t *cf, ngx_http_mesh_srv_conf_t *mscf,
    ngx_str_t *trust_domain)
{
    ngx_uint_t               i;
    ngx_pool_cleanup_t      *cln;
    ngx_http_mesh_bundle_t  *b;

    if (mscf->bundles == NULL) {
        mscf->bundles = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_mesh_bundle_t));
        if (mscf->bundles == NULL) {
            return NULL;
        }
    }

    b = mscf->bundles->elts;

    for (i = 0; i < mscf->bundles->nelts; i++) {
        if (b[i].trust_domain.len == trust_domain->len
            && ngx_strncmp(b[i].trust_domain.data, trust_domain->data,
                           trust_domain->len) == 0)
        {
            return &b[i];
        }
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    b = ngx_array_push(mscf->bundles);
    if (b == NULL) {
        return NULL;
    }

    b->trust_domain = *trust_domain;
    b->store = X509_STORE_new();

    if (b->store == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "X509_STORE_new() failed");
        return NULL;
    }

    /* every certificate of a SPIFFE bundle is a trust anchor, even one
       that is not self-signed */

    X509_STORE_set_flags(b->store, X509_V_FLAG_PARTIAL_CHAIN);

    cln->handler = ngx_http_mesh_bundle_cleanup;
    cln->data = b->store;

    return b;
}


static void
ngx_http_mesh_bundle_cleanup(void *data)
{
    X509_STORE_free(data);
}
