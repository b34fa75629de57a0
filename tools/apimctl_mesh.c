
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl's "mesh" commands: the store's mesh edges, which nginx reads on
 * the next request (no reload):
 *
 *   mesh allow <source> <service> [methods=..] [paths=..] [rate=..]
 *              [burst=..] [per=source|edge]
 *   mesh deny <source> <service> [methods=..] [paths=..]
 *   mesh limit <source> <service> rate=.. [burst=..] [per=..]
 *              [methods=..] [paths=..]
 *   mesh list [<service>]
 *   mesh remove <id>
 *
 * The parameters have the form of the nginx directives (mesh_allow,
 * mesh_limit), so a rule moves between nginx.conf and the store as it is.
 * These commands parse their own command line: apimctl.c hands over a
 * command line whose first word is "mesh".
 */


#include "apimctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ngx_mesh_pattern.h"
#include "ngx_mesh_spiffe.h"
#include "ngx_mesh_policy_record.h"


#define APIMCTL_MESH_ARGS_MAX     8


typedef struct {
    ngx_mesh_edge_rec_t        rec;
    int64_t                    find;         /* remove: the id sought */
    size_t                     klen;
    unsigned char              key[NGX_MESH_EDGE_KEY_MAX];
    const char                *service;     /* list: only this one */
    unsigned                   found;
    unsigned                   damaged;
} apimctl_mesh_t;


static int apimctl_mesh_edge(apimctl_ctx_t *ctx, int64_t action,
    char **args, int nargs);
static int apimctl_mesh_param(ngx_mesh_edge_rec_t *rec, const char *a);
static int apimctl_mesh_add_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int apimctl_mesh_list(apimctl_ctx_t *ctx, char **args, int nargs);
static int apimctl_mesh_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static int apimctl_mesh_remove(apimctl_ctx_t *ctx, char **args, int nargs);
static int apimctl_mesh_remove_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int apimctl_mesh_find_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static void apimctl_mesh_print(const ngx_mesh_edge_rec_t *rec);
static int apimctl_mesh_size(const char *s, size_t *size);
static int apimctl_mesh_usage(const char *fmt, const char *arg);


static const char  *apimctl_mesh_actions[] = {
    "", "allow", "deny", "limit"
};


/*
 * APIMCTL_RETRY: the command line is not a mesh command; the global
 * options (-s, --store, --size, --secret) may come before "mesh"
 */

int
apimctl_mesh_main(apimctl_ctx_t *ctx, int argc, char **argv)
{
    int          i, nargs;
    char        *args[APIMCTL_MESH_ARGS_MAX];
    const char  *a, *value, *cmd;

    /* the first word, past the global options */

    for (i = 1; i < argc; i++) {
        a = argv[i];

        if (a[0] != '-' || a[1] == '\0') {
            break;
        }

        if (strchr(a, '=') == NULL
            && (strcmp(a, "-s") == 0 || strcmp(a, "--store") == 0
                || strcmp(a, "--size") == 0 || strcmp(a, "--secret") == 0))
        {
            i++;
        }
    }

    if (i >= argc || strcmp(argv[i], "mesh") != 0) {
        return APIMCTL_RETRY;
    }

    cmd = NULL;
    nargs = 0;

    for (i = 1; i < argc; i++) {
        a = argv[i];

        if (a[0] == '-' && a[1] != '\0') {
            value = strchr(a, '=');

            if (value) {
                value++;

            } else if (strcmp(a, "-s") == 0 || strcmp(a, "--store") == 0
                       || strcmp(a, "--size") == 0
                       || strcmp(a, "--secret") == 0)
            {
                if (i + 1 == argc) {
                    return apimctl_mesh_usage("%s needs a value", a);
                }

                value = argv[++i];

            } else {
                return apimctl_mesh_usage("unknown option %s",
                                          apimctl_quote(a));
            }

            if (strcmp(a, "-s") == 0 || strncmp(a, "--store", 7) == 0) {
                ctx->store = value;

            } else if (strncmp(a, "--size", 6) == 0) {
                if (apimctl_mesh_size(value, &ctx->size) != 0) {
                    return apimctl_mesh_usage("invalid --size %s",
                                              apimctl_quote(value));
                }

                ctx->size_text = value;

            } else if (strncmp(a, "--secret", 8) != 0) {
                return apimctl_mesh_usage("unknown option %s",
                                          apimctl_quote(a));
            }

            continue;
        }

        if (cmd == NULL) {
            cmd = a;                           /* "mesh" */
            continue;
        }

        if (nargs == APIMCTL_MESH_ARGS_MAX) {
            return apimctl_mesh_usage("mesh: too many arguments%s", "");
        }

        args[nargs++] = argv[i];
    }

    if (nargs == 0) {
        return apimctl_mesh_usage("\"mesh\" needs a command: allow, deny, "
                                  "limit, list, remove%s", "");
    }

    if (ctx->store == NULL) {
        ctx->store = getenv("APIM_STORE");

        if (ctx->store == NULL || ctx->store[0] == '\0') {
            return apimctl_mesh_usage("no store: use -s <dir> or set "
                                      "APIM_STORE%s", "");
        }
    }

    if (strcmp(args[0], "allow") == 0) {
        return apimctl_mesh_edge(ctx, NGX_MESH_EDGE_ALLOW, args, nargs);
    }

    if (strcmp(args[0], "deny") == 0) {
        return apimctl_mesh_edge(ctx, NGX_MESH_EDGE_DENY, args, nargs);
    }

    if (strcmp(args[0], "limit") == 0) {
        return apimctl_mesh_edge(ctx, NGX_MESH_EDGE_LIMIT, args, nargs);
    }

    if (strcmp(args[0], "list") == 0) {
        return apimctl_mesh_list(ctx, args, nargs);
    }

    if (strcmp(args[0], "remove") == 0) {
        return apimctl_mesh_remove(ctx, args, nargs);
    }

    return apimctl_mesh_usage("unknown command \"mesh\" %s",
                              apimctl_quote(args[0]));
}


/* mesh allow|deny|limit <source> <service> [name=value]... */

static int
apimctl_mesh_edge(apimctl_ctx_t *ctx, int64_t action, char **args,
    int nargs)
{
    int                   i, rc;
    const char           *err;
    apimctl_mesh_t        m;
    ngx_mesh_str_t        source;
    ngx_mesh_edge_rec_t  *rec;

    if (nargs < 3) {
        return apimctl_mesh_usage("mesh %s needs a caller pattern and a "
                                  "service", args[0]);
    }

    memset(&m, 0, sizeof(apimctl_mesh_t));
    rec = &m.rec;

    rec->action = action;
    rec->created = ctx->now;
    rec->window = 1;
    rec->per = NGX_MESH_EDGE_PER_EDGE;

    rec->source.data = args[1];
    rec->source.len = strlen(args[1]);

    source.data = rec->source.data;
    source.len = rec->source.len;

    err = ngx_mesh_spiffe_check_pattern(&source);

    if (err) {
        fprintf(stderr, "apimctl: invalid caller pattern %s: %s; a SPIFFE "
                "ID, a prefix \"spiffe://td/ns/shop/*\" or \"*\"\n"
                "see apimctl --help\n", apimctl_quote(args[1]), err);
        return APIMCTL_USAGE;
    }

    rec->service.data = args[2];
    rec->service.len = strlen(args[2]);

    if (!ngx_apim_name_valid(rec->service.data, rec->service.len)) {
        return apimctl_mesh_usage("invalid service name %s: use 1 to 64 "
                                  "characters of A-Z a-z 0-9 . _ -",
                                  apimctl_quote(args[2]));
    }

    for (i = 3; i < nargs; i++) {
        rc = apimctl_mesh_param(rec, args[i]);
        if (rc != APIMCTL_OK) {
            return rc;
        }
    }

    if (action == NGX_MESH_EDGE_DENY && rec->rate) {
        return apimctl_mesh_usage("mesh deny takes no rate%s", "");
    }

    if (action == NGX_MESH_EDGE_LIMIT && rec->rate == 0) {
        return apimctl_mesh_usage("mesh limit needs rate=, such as "
                                  "rate=10r/s%s", "");
    }

    if (rec->burst && rec->rate == 0) {
        return apimctl_mesh_usage("burst= needs rate=%s", "");
    }

    rc = apimctl_open_store(ctx);
    if (rc != APIMCTL_OK) {
        return rc;
    }

    rc = ngx_apim_store_write(&ctx->st, apimctl_mesh_add_handler, &m);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    printf("%lld\n", (long long) rec->id);

    return APIMCTL_OK;
}


static int
apimctl_mesh_param(ngx_mesh_edge_rec_t *rec, const char *a)
{
    char        *end;
    size_t       len;
    long long    n;
    const char  *v;

    v = strchr(a, '=');

    if (v == NULL) {
        return apimctl_mesh_usage("invalid parameter %s", apimctl_quote(a));
    }

    v++;
    len = strlen(v);

    if (strncmp(a, "methods=", 8) == 0) {
        if (rec->methods.len || len == 0
            || !ngx_mesh_list_valid(v, len, ngx_mesh_method_valid))
        {
            return apimctl_mesh_usage("invalid methods %s: nginx method "
                                      "names such as methods=GET,POST",
                                      apimctl_quote(a));
        }

        rec->methods.data = v;
        rec->methods.len = len;
        return APIMCTL_OK;
    }

    if (strncmp(a, "paths=", 6) == 0) {
        if (rec->paths.len || len == 0
            || !ngx_mesh_list_valid(v, len, ngx_mesh_path_pattern_valid))
        {
            return apimctl_mesh_usage("invalid paths %s: paths such as "
                                      "paths=/a/*,/b", apimctl_quote(a));
        }

        rec->paths.data = v;
        rec->paths.len = len;
        return APIMCTL_OK;
    }

    if (strncmp(a, "rate=", 5) == 0) {
        errno = 0;
        n = strtoll(v, &end, 10);

        if (errno || end == v || n <= 0 || n > 1000000
            || (strcmp(end, "r/s") != 0 && strcmp(end, "r/m") != 0))
        {
            return apimctl_mesh_usage("invalid rate %s: it must look like "
                                      "rate=10r/s or rate=100r/m",
                                      apimctl_quote(a));
        }

        rec->rate = n;
        rec->window = (end[2] == 's') ? 1 : 60;
        return APIMCTL_OK;
    }

    if (strncmp(a, "burst=", 6) == 0) {
        errno = 0;
        n = strtoll(v, &end, 10);

        if (errno || end == v || *end != '\0' || n < 0 || n > 1000000) {
            return apimctl_mesh_usage("invalid burst %s", apimctl_quote(a));
        }

        rec->burst = n;
        return APIMCTL_OK;
    }

    if (strcmp(a, "per=source") == 0) {
        rec->per = NGX_MESH_EDGE_PER_SOURCE;
        return APIMCTL_OK;
    }

    if (strcmp(a, "per=edge") == 0) {
        rec->per = NGX_MESH_EDGE_PER_EDGE;
        return APIMCTL_OK;
    }

    return apimctl_mesh_usage("invalid parameter %s", apimctl_quote(a));
}


/* the next id and the edge, in one transaction */

static int
apimctl_mesh_add_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    apimctl_mesh_t  *m = data;

    int                   rc, i;
    size_t                size;
    uint64_t              u;
    unsigned char        *buf, seq[8];
    const unsigned char  *p;
    ngx_apim_val_t        val;

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_POLICIES,
                                NGX_MESH_EDGE_SEQ,
                                sizeof(NGX_MESH_EDGE_SEQ) - 1, &val);

    u = 0;

    if (rc == NGX_APIM_STORE_OK && val.len == 8) {
        p = val.data;

        for (i = 7; i >= 0; i--) {
            u = (u << 8) | p[i];
        }

    } else if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
        return rc;
    }

    if (u >= NGX_MESH_EDGE_ID_MAX) {
        return ngx_apim_store_fail(st, MDB_KEYEXIST, "no mesh edge id is "
                                   "left");
    }

    u++;

    for (i = 0; i < 8; i++) {
        seq[i] = (unsigned char) (u >> (8 * i));
    }

    rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_POLICIES,
                                NGX_MESH_EDGE_SEQ,
                                sizeof(NGX_MESH_EDGE_SEQ) - 1, seq, 8, 0);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    m->rec.id = (int64_t) u;

    size = ngx_mesh_edge_rec_size(&m->rec);

    buf = malloc(size);
    if (buf == NULL) {
        return ngx_apim_store_fail(st, ENOMEM, "malloc() failed");
    }

    ngx_mesh_edge_rec_encode(&m->rec, buf);

    m->klen = ngx_mesh_edge_key(m->key, m->rec.service.data,
                                m->rec.service.len, m->rec.id);

    rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_POLICIES, m->key,
                                m->klen, buf, size, MDB_NOOVERWRITE);
    free(buf);

    return rc;
}


/* mesh list [<service>] */

static int
apimctl_mesh_list(apimctl_ctx_t *ctx, char **args, int nargs)
{
    int             rc;
    size_t          len;
    apimctl_mesh_t  m;

    if (nargs > 2) {
        return apimctl_mesh_usage("mesh list: too many arguments%s", "");
    }

    memset(&m, 0, sizeof(apimctl_mesh_t));

    len = 0;

    if (nargs == 2) {
        if (!ngx_apim_name_valid(args[1], strlen(args[1]))) {
            return apimctl_mesh_usage("invalid service name %s",
                                      apimctl_quote(args[1]));
        }

        m.service = args[1];
        len = ngx_mesh_edge_prefix(m.key, args[1], strlen(args[1]));

    } else {
        memcpy(m.key, NGX_MESH_EDGE_PREFIX, sizeof(NGX_MESH_EDGE_PREFIX) - 1);
        len = sizeof(NGX_MESH_EDGE_PREFIX) - 1;
    }

    m.klen = len;

    rc = apimctl_open_store(ctx);
    if (rc != APIMCTL_OK) {
        return rc;
    }

    rc = ngx_apim_store_read_begin(&ctx->st);

    if (rc == NGX_APIM_STORE_OK) {
        rc = ngx_apim_store_iterate(&ctx->st, NGX_APIM_DB_POLICIES, m.key,
                                    m.klen, apimctl_mesh_list_handler, &m);
        ngx_apim_store_read_end(&ctx->st);
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    if (m.damaged) {
        fprintf(stderr, "apimctl: %u damaged mesh edges skipped\n",
                m.damaged);
        return APIMCTL_FAILED;
    }

    return APIMCTL_OK;
}


static int
apimctl_mesh_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data)
{
    apimctl_mesh_t  *m = data;

    ngx_mesh_edge_rec_t  rec;

    if (key->len < m->klen || memcmp(key->data, m->key, m->klen) != 0) {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    if (ngx_mesh_edge_rec_decode(&rec, val->data, val->len) != 0) {
        m->damaged++;
        return NGX_APIM_STORE_OK;
    }

    apimctl_mesh_print(&rec);

    return NGX_APIM_STORE_OK;
}


/* mesh remove <id> */

static int
apimctl_mesh_remove(apimctl_ctx_t *ctx, char **args, int nargs)
{
    int             rc;
    char           *end;
    long long       id;
    apimctl_mesh_t  m;

    if (nargs != 2) {
        return apimctl_mesh_usage("mesh remove needs one edge id%s", "");
    }

    errno = 0;
    id = strtoll(args[1], &end, 10);

    if (errno || end == args[1] || *end != '\0' || id <= 0
        || id > NGX_MESH_EDGE_ID_MAX)
    {
        return apimctl_mesh_usage("invalid edge id %s: a number, as "
                                  "\"mesh list\" shows",
                                  apimctl_quote(args[1]));
    }

    memset(&m, 0, sizeof(apimctl_mesh_t));
    m.find = id;

    rc = apimctl_open_store(ctx);
    if (rc != APIMCTL_OK) {
        return rc;
    }

    rc = ngx_apim_store_write(&ctx->st, apimctl_mesh_remove_handler, &m);

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    if (m.found == 0) {
        fprintf(stderr, "apimctl: mesh edge %lld not found\n", id);
        return APIMCTL_FAILED;
    }

    printf("%lld\n", id);

    return APIMCTL_OK;
}


/*
 * Finds and deletes in one write transaction, so no other writer comes
 * between.  Every key ending with the id goes: one normally, more only if
 * something outside apimctl and nginx wrote edges (a damaged one included).
 */

static int
apimctl_mesh_remove_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    apimctl_mesh_t  *m = data;

    int  rc;

    m->found = 0;

    for ( ;; ) {
        m->klen = 0;

        rc = ngx_apim_store_txn_iterate(st, txn, NGX_APIM_DB_POLICIES,
                                        NGX_MESH_EDGE_PREFIX,
                                        sizeof(NGX_MESH_EDGE_PREFIX) - 1,
                                        apimctl_mesh_find_handler, m);
        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }

        if (m->klen == 0) {
            return NGX_APIM_STORE_OK;
        }

        rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_POLICIES,
                                       m->key, m->klen);
        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }

        m->found++;
    }
}


/* the edge's key ends with its id in 10 digits */

static int
apimctl_mesh_find_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data)
{
    apimctl_mesh_t  *m = data;

    char                  digits[NGX_MESH_EDGE_ID_LEN + 1];
    const unsigned char  *k;

    k = key->data;

    if (key->len < sizeof(NGX_MESH_EDGE_PREFIX) - 1
        || memcmp(k, NGX_MESH_EDGE_PREFIX, sizeof(NGX_MESH_EDGE_PREFIX) - 1)
           != 0)
    {
        return NGX_APIM_STORE_NOT_FOUND;
    }

    snprintf(digits, sizeof(digits), "%010lld", (long long) m->find);

    if (key->len > NGX_MESH_EDGE_ID_LEN
        && key->len <= NGX_MESH_EDGE_KEY_MAX
        && k[key->len - NGX_MESH_EDGE_ID_LEN - 1] == '\0'
        && memcmp(k + key->len - NGX_MESH_EDGE_ID_LEN, digits,
                  NGX_MESH_EDGE_ID_LEN) == 0)
    {
        memcpy(m->key, k, key->len);
        m->klen = key->len;
        return NGX_APIM_STORE_NOT_FOUND;
    }

    return NGX_APIM_STORE_OK;
}


/* <id> <action> <source> <service> [methods=] [paths=] [rate= burst= per=] */

static void
apimctl_mesh_print(const ngx_mesh_edge_rec_t *rec)
{
    printf("%lld %s %.*s %.*s", (long long) rec->id,
           apimctl_mesh_actions[rec->action], (int) rec->source.len,
           rec->source.data, (int) rec->service.len, rec->service.data);

    if (rec->methods.len) {
        printf(" methods=%.*s", (int) rec->methods.len, rec->methods.data);
    }

    if (rec->paths.len) {
        printf(" paths=%.*s", (int) rec->paths.len, rec->paths.data);
    }

    if (rec->rate) {
        printf(" rate=%lldr/%s burst=%lld per=%s", (long long) rec->rate,
               rec->window == 60 ? "m" : "s", (long long) rec->burst,
               rec->per == NGX_MESH_EDGE_PER_SOURCE ? "source" : "edge");
    }

    printf("\n");
}


/* 64m, 1g: at least a megabyte */

static int
apimctl_mesh_size(const char *s, size_t *size)
{
    char       *end;
    long long   n;

    errno = 0;
    n = strtoll(s, &end, 10);

    if (errno || end == s || n <= 0) {
        return -1;
    }

    switch (*end) {
    case 'k': case 'K': n *= 1024LL; end++; break;
    case 'm': case 'M': n *= 1024LL * 1024; end++; break;
    case 'g': case 'G': n *= 1024LL * 1024 * 1024; end++; break;
    default: break;
    }

    if (*end != '\0' || n < 1024 * 1024) {
        return -1;
    }

    *size = (size_t) n;

    return 0;
}


static int
apimctl_mesh_usage(const char *fmt, const char *arg)
{
    fputs("apimctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nsee apimctl --help\n", stderr);

    return APIMCTL_USAGE;
}
