
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * apimctl: the command-line tool that manages the consumers and API keys
 * of an apim store, the LMDB environment nginx reads.  It links the very
 * code nginx runs (ngx_apim_store.c, ngx_apim_key.c, ngx_apim_record.c).
 *
 * A generated key is printed once, by "key add"; the store keeps only its
 * HMAC under the secret nginx shares, so neither the store nor anything
 * apimctl prints later can give a key back.  Exit status: 0 done, 1
 * failed, 2 bad usage (checked before the store is touched).
 */


/* the header defines OPENSSL_SUPPRESS_DEPRECATED before any OpenSSL header */
#define _GNU_SOURCE   /* getline(), memmem() */

#include "ngx_apim_key.h"
#include "ngx_apim_record.h"
#include "ngx_apim_store.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/crypto.h>


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

#define APIMCTL_OPT_GLOBAL        (APIMCTL_OPT_STORE|APIMCTL_OPT_SECRET      \
                                   |APIMCTL_OPT_SIZE)
#define APIMCTL_OPT_KEY           (APIMCTL_OPT_CONSUMER|APIMCTL_OPT_PLAN     \
                                   |APIMCTL_OPT_EXPIRES                      \
                                   |APIMCTL_OPT_NOT_BEFORE                   \
                                   |APIMCTL_OPT_APIS|APIMCTL_OPT_META)

#define APIMCTL_ARG_NONE          0
#define APIMCTL_ARG_NAME          1      /* a consumer name */
#define APIMCTL_ARG_ID            2      /* a key id */
#define APIMCTL_ARG_KEY           3      /* a key, or "-": read stdin */
#define APIMCTL_ARG_FILE          4      /* a file of keys, one a line */

#define APIMCTL_BATCH             10000  /* keys a write transaction */

#define APIMCTL_WORDS_MAX         2      /* "key", "show" */
#define APIMCTL_META_MAX          64
#define APIMCTL_METADATA_MAX      4096   /* bytes of JSON */
#define APIMCTL_MAXREADERS        126
#define APIMCTL_SIZE_DEFAULT      "1g"
#define APIMCTL_SIZE_MIN          (1024 * 1024)
#define APIMCTL_TIME_MAX          253402300799LL  /* 9999-12-31T23:59:59Z */
#define APIMCTL_TIME_LEN          sizeof("9999-12-31T23:59:59Z")
#define APIMCTL_NAME_RULE         "1 to 64 characters of A-Z a-z 0-9 . _ -"


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


typedef int (*apimctl_handler_pt)(apimctl_ctx_t *ctx);
typedef int (*apimctl_set_pt)(apimctl_ctx_t *ctx, const char *name,
    const char *value);


struct apimctl_command_s {
    const char                *group;
    const char                *name;        /* NULL: the group is one */
    apimctl_handler_pt         handler;
    unsigned                   options;     /* allowed, besides global */
    unsigned                   required;
    unsigned                   arg;
    const char                *usage;
    const char                *help;
};


typedef struct {
    const char                *name;
    const char                *alias;
    unsigned                   flag;
    apimctl_set_pt             set;
} apimctl_option_t;


typedef struct {
    apimctl_ctx_t             *ctx;
    int                        damaged;
} apimctl_list_t;


typedef struct {
    apimctl_ctx_t             *ctx;
    size_t                     n;
    size_t                     line;         /* of the first key */
    size_t                     existed;      /* in this batch */
    int                        no_consumer;
    char                     (*ids)[NGX_APIM_ID_LEN + 1];
    unsigned char            (*hashes)[NGX_APIM_HASH_LEN];
    unsigned char             *rec;          /* with a placeholder id */
    size_t                     rec_len;
    size_t                     id_offset;
} apimctl_batch_t;


typedef struct {
    const char                *consumer;
    const char                *id;
    const unsigned char       *hash;
    const unsigned char       *rec;
    size_t                     rec_len;
    int                        no_consumer;
    int                        key_exists;
    int                        id_exists;
    char                       other[NGX_APIM_ID_LEN + 1];
} apimctl_key_op_t;


static int apimctl_parse(apimctl_ctx_t *ctx, int argc, char **argv);
static int apimctl_option(apimctl_ctx_t *ctx, int argc, char **argv,
    int *i);
static int apimctl_word(apimctl_ctx_t *ctx, const char *word);
static int apimctl_check(apimctl_ctx_t *ctx);
static int apimctl_check_arg(apimctl_ctx_t *ctx);
static int apimctl_read_key(apimctl_ctx_t *ctx);
static int apimctl_usage(const char *fmt, ...);
static void apimctl_help(void);
static const char *apimctl_quote(const char *s);

static int apimctl_set_store(apimctl_ctx_t *ctx, const char *name,
    const char *value);
static int apimctl_set_secret(apimctl_ctx_t *ctx, const char *name,
    const char *value);
static int apimctl_set_size(apimctl_ctx_t *ctx, const char *name,
    const char *value);
static int apimctl_set_name(apimctl_ctx_t *ctx, const char *name,
    const char *value);
static int apimctl_set_time(apimctl_ctx_t *ctx, const char *name,
    const char *value);
static int apimctl_set_apis(apimctl_ctx_t *ctx, const char *name,
    const char *value);
static int apimctl_set_meta(apimctl_ctx_t *ctx, const char *name,
    const char *value);

static int apimctl_parse_time(const char *s, time_t now, int64_t *t);
static int apimctl_parse_rfc3339(const char *s, int64_t *t);
static int apimctl_digits(const char *p, int n, int *v);
static int64_t apimctl_days(int y, int m, int d);
static const char *apimctl_time(int64_t t, char buf[APIMCTL_TIME_LEN]);
static int apimctl_build_metadata(apimctl_ctx_t *ctx);
static char *apimctl_json_string(char *p, const char *s);
static int apimctl_utf8_valid(const unsigned char *p, size_t len);
static int apimctl_id_valid(const char *id);

static int apimctl_open(apimctl_ctx_t *ctx);
static int apimctl_open_secret(apimctl_ctx_t *ctx);
static int apimctl_store_error(apimctl_ctx_t *ctx, int rc);

static int apimctl_consumer_add(apimctl_ctx_t *ctx);
static int apimctl_consumer_list(apimctl_ctx_t *ctx);
static int apimctl_consumer_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static int apimctl_consumer_show(apimctl_ctx_t *ctx);
static int apimctl_consumer_delete(apimctl_ctx_t *ctx);
static int apimctl_consumer_delete_handler(ngx_apim_store_t *st,
    MDB_txn *txn, void *data);
static int apimctl_key_add(apimctl_ctx_t *ctx);
static int apimctl_write(int fd, const char *buf, size_t len);
static int apimctl_key_import(apimctl_ctx_t *ctx);
static int apimctl_key_import_file(apimctl_ctx_t *ctx);
static int apimctl_consumer_exists(apimctl_ctx_t *ctx);
static int apimctl_key_file_check(apimctl_ctx_t *ctx, FILE *f, char **line,
    size_t *cap);
static int apimctl_key_batch_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int apimctl_key_put(apimctl_ctx_t *ctx, const char *key, size_t len,
    const char *id);
static int apimctl_key_put_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int apimctl_key_list(apimctl_ctx_t *ctx);
static int apimctl_key_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data);
static int apimctl_key_get(apimctl_ctx_t *ctx, const char *id, size_t len,
    ngx_apim_key_rec_t *rec);
static int apimctl_key_show(apimctl_ctx_t *ctx);
static int apimctl_key_revoke(apimctl_ctx_t *ctx);
static int apimctl_key_delete(apimctl_ctx_t *ctx, const char *id);
static int apimctl_key_delete_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data);
static int apimctl_usage_show(apimctl_ctx_t *ctx);
static const char *apimctl_key_status(apimctl_ctx_t *ctx,
    const ngx_apim_key_rec_t *rec);
static void apimctl_field(const char *name, const ngx_apim_str_t *value);


static const apimctl_command_t  apimctl_commands[] = {

    { "consumer", "add", apimctl_consumer_add,
      APIMCTL_OPT_PLAN|APIMCTL_OPT_META, APIMCTL_OPT_PLAN, APIMCTL_ARG_NAME,
      "<name> --plan <plan> [--meta k=v]...",
      "add a consumer; prints its name" },

    { "consumer", "list", apimctl_consumer_list,
      0, 0, APIMCTL_ARG_NONE,
      "",
      "one line per consumer: name, id, plan" },

    { "consumer", "show", apimctl_consumer_show,
      0, 0, APIMCTL_ARG_NAME,
      "<name>",
      "a consumer's fields" },

    { "consumer", "delete", apimctl_consumer_delete,
      0, 0, APIMCTL_ARG_NAME,
      "<name>",
      "delete a consumer and revoke its keys; prints the name" },

    { "key", "add", apimctl_key_add,
      APIMCTL_OPT_KEY, APIMCTL_OPT_CONSUMER, APIMCTL_ARG_NONE,
      "--consumer <name> [--plan <plan>] [--expires <when>]\n"
      "        [--not-before <when>] [--apis <a,b>] [--meta k=v]...",
      "make a key; prints it, this once only" },

    { "key", "import", apimctl_key_import,
      APIMCTL_OPT_KEY, APIMCTL_OPT_CONSUMER, APIMCTL_ARG_KEY,
      "--consumer <name> [the options of key add] <key>|-",
      "store an existing key (\"-\": read it from stdin); prints its id" },

    { "key", "import-file", apimctl_key_import_file,
      APIMCTL_OPT_KEY, APIMCTL_OPT_CONSUMER, APIMCTL_ARG_FILE,
      "--consumer <name> [the options of key add] <file>",
      "store the keys of a file, one a line, in batches (a migration);\n"
      "        prints the ids, one a line, in the file's order" },

    { "key", "list", apimctl_key_list,
      APIMCTL_OPT_CONSUMER, 0, APIMCTL_ARG_NONE,
      "[--consumer <name>]",
      "one line per key: id, consumer, plan, status" },

    { "key", "show", apimctl_key_show,
      0, 0, APIMCTL_ARG_ID,
      "<id>",
      "a key's fields (never the key)" },

    { "key", "revoke", apimctl_key_revoke,
      0, 0, APIMCTL_ARG_ID,
      "<id>",
      "delete a key; prints its id" },

    { "usage", NULL, apimctl_usage_show,
      0, 0, APIMCTL_ARG_ID,
      "<id>",
      "a key's counted use in its current quota window" },

    { NULL, NULL, NULL, 0, 0, 0, NULL, NULL }
};


static const apimctl_option_t  apimctl_options[] = {
    { "--store", "-s", APIMCTL_OPT_STORE, apimctl_set_store },
    { "--secret", NULL, APIMCTL_OPT_SECRET, apimctl_set_secret },
    { "--size", NULL, APIMCTL_OPT_SIZE, apimctl_set_size },
    { "--plan", NULL, APIMCTL_OPT_PLAN, apimctl_set_name },
    { "--consumer", NULL, APIMCTL_OPT_CONSUMER, apimctl_set_name },
    { "--expires", NULL, APIMCTL_OPT_EXPIRES, apimctl_set_time },
    { "--not-before", NULL, APIMCTL_OPT_NOT_BEFORE, apimctl_set_time },
    { "--apis", NULL, APIMCTL_OPT_APIS, apimctl_set_apis },
    { "--meta", NULL, APIMCTL_OPT_META, apimctl_set_meta },
    { NULL, NULL, 0, NULL }
};


int
main(int argc, char **argv)
{
    int            rc;
    apimctl_ctx_t  ctx;

    /* a closed stdout is an error to report, not a signal to die of */
    signal(SIGPIPE, SIG_IGN);

    memset(&ctx, 0, sizeof(apimctl_ctx_t));

    ctx.now = time(NULL);

    rc = apimctl_set_size(&ctx, "--size", APIMCTL_SIZE_DEFAULT);

    if (rc == APIMCTL_OK) {
        rc = apimctl_parse(&ctx, argc, argv);
    }

    if (rc == APIMCTL_OK) {
        rc = apimctl_check(&ctx);
    }

    if (rc == APIMCTL_OK) {
        rc = apimctl_open(&ctx);

        if (rc == APIMCTL_OK) {
            rc = ctx.cmd->handler(&ctx);
        }

        ngx_apim_store_close(&ctx.st);
    }

    OPENSSL_cleanse(ctx.key, sizeof(ctx.key));
    OPENSSL_cleanse(&ctx.hmac, sizeof(ngx_apim_hmac_t));
    free(ctx.metadata);

    if (rc == APIMCTL_DONE) {
        rc = APIMCTL_OK;
    }

    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "apimctl: cannot write to stdout: %s\n",
                strerror(errno));
        rc = APIMCTL_FAILED;
    }

    return rc;
}


/*
 * Options may come before or after the command words; "--" ends them.
 * After "key import" a word starting with "-" that is not an option is
 * the key itself, so that no key is ever echoed as an unknown option.
 */

static int
apimctl_parse(apimctl_ctx_t *ctx, int argc, char **argv)
{
    int          i, rc, dashdash;
    const char  *a;

    dashdash = 0;

    for (i = 1; i < argc; i++) {
        a = argv[i];

        if (!dashdash && a[0] == '-' && a[1] != '\0') {

            if (strcmp(a, "--") == 0) {
                dashdash = 1;
                continue;
            }

            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                apimctl_help();
                return APIMCTL_DONE;
            }

            if (strcmp(a, "--version") == 0) {
                printf("apimctl %s\n", NGX_APIM_VERSION);
                return APIMCTL_DONE;
            }

            rc = apimctl_option(ctx, argc, argv, &i);

            if (rc == APIMCTL_OK) {
                continue;
            }

            if (rc != APIMCTL_RETRY) {
                return rc;
            }

            /* not an option: after "key import", the key */
        }

        rc = apimctl_word(ctx, a);
        if (rc != APIMCTL_OK) {
            return rc;
        }
    }

    return APIMCTL_OK;
}


/* APIMCTL_RETRY: not an option, and a word may start with "-" here */

static int
apimctl_option(apimctl_ctx_t *ctx, int argc, char **argv, int *i)
{
    size_t                   n;
    const char              *a, *eq, *value;
    const apimctl_option_t  *opt;

    a = argv[*i];
    eq = strchr(a, '=');
    n = eq ? (size_t) (eq - a) : strlen(a);

    for (opt = apimctl_options; opt->name; opt++) {
        if ((strlen(opt->name) == n && strncmp(a, opt->name, n) == 0)
            || (opt->alias && eq == NULL && strcmp(a, opt->alias) == 0))
        {
            break;
        }
    }

    if (opt->name == NULL) {
        if (ctx->cmd && ctx->cmd->arg == APIMCTL_ARG_KEY && ctx->arg == NULL)
        {
            return APIMCTL_RETRY;
        }

        return apimctl_usage("unknown option %s", apimctl_quote(a));
    }

    if (eq) {
        value = eq + 1;

    } else if (*i + 1 < argc) {
        value = argv[++*i];

    } else {
        return apimctl_usage("%s needs a value", opt->name);
    }

    if ((ctx->given & opt->flag) && opt->flag != APIMCTL_OPT_META) {
        return apimctl_usage("%s is given twice", opt->name);
    }

    ctx->given |= opt->flag;

    return opt->set(ctx, opt->name, value);
}


/* the command words, then the command's one argument */

static int
apimctl_word(apimctl_ctx_t *ctx, const char *word)
{
    const apimctl_command_t  *c;

    if (ctx->cmd) {
        if (ctx->cmd->arg == APIMCTL_ARG_NONE || ctx->arg) {
            return apimctl_usage("%s%s%s: too many arguments",
                                 ctx->cmd->group,
                                 ctx->cmd->name ? " " : "",
                                 ctx->cmd->name ? ctx->cmd->name : "");
        }

        ctx->arg = word;
        return APIMCTL_OK;
    }

    ctx->words[ctx->nwords++] = word;

    for (c = apimctl_commands; c->group; c++) {
        if (strcmp(c->group, ctx->words[0]) != 0) {
            continue;
        }

        if (c->name == NULL
            || (ctx->nwords == 2 && strcmp(c->name, ctx->words[1]) == 0))
        {
            ctx->cmd = c;
            return APIMCTL_OK;
        }

        if (ctx->nwords == 1) {
            /* a group with commands: wait for the next word */
            return APIMCTL_OK;
        }
    }

    if (ctx->nwords == 1) {
        return apimctl_usage("unknown command %s", apimctl_quote(word));
    }

    return apimctl_usage("unknown command \"%s\" %s", ctx->words[0],
                         apimctl_quote(word));
}


/* all that can be checked without the store */

static int
apimctl_check(apimctl_ctx_t *ctx)
{
    int                       rc;
    char                      names[64];
    const char               *env;
    const apimctl_option_t   *opt;
    const apimctl_command_t  *c, *cmd;

    cmd = ctx->cmd;

    if (cmd == NULL && ctx->nwords == 0) {
        return apimctl_usage("no command");
    }

    if (cmd == NULL) {
        names[0] = '\0';

        for (c = apimctl_commands; c->group; c++) {
            if (strcmp(c->group, ctx->words[0]) == 0) {
                strcat(names, names[0] ? ", " : "");
                strcat(names, c->name);
            }
        }

        return apimctl_usage("\"%s\" needs a command: %s", ctx->words[0],
                             names);
    }

    if (cmd->arg != APIMCTL_ARG_NONE && ctx->arg == NULL) {
        return apimctl_usage("%s%s%s needs %s", cmd->group,
                             cmd->name ? " " : "",
                             cmd->name ? cmd->name : "",
                             cmd->arg == APIMCTL_ARG_NAME ? "a name"
                             : cmd->arg == APIMCTL_ARG_ID ? "a key id"
                             : cmd->arg == APIMCTL_ARG_FILE ? "a file"
                             : "a key (or \"-\" to read it from stdin)");
    }

    for (opt = apimctl_options; opt->name; opt++) {
        if ((ctx->given & opt->flag)
            && !(opt->flag & (cmd->options | APIMCTL_OPT_GLOBAL)))
        {
            return apimctl_usage("%s does not apply to %s%s%s", opt->name,
                                 cmd->group, cmd->name ? " " : "",
                                 cmd->name ? cmd->name : "");
        }

        if ((cmd->required & opt->flag) && !(ctx->given & opt->flag)) {
            return apimctl_usage("%s%s%s needs %s", cmd->group,
                                 cmd->name ? " " : "",
                                 cmd->name ? cmd->name : "", opt->name);
        }
    }

    if (ctx->store == NULL) {
        env = getenv("APIM_STORE");

        if (env == NULL || env[0] == '\0') {
            return apimctl_usage("no store: use -s <dir> or set APIM_STORE");
        }

        ctx->store = env;
    }

    if ((ctx->given & APIMCTL_OPT_EXPIRES)
        && (ctx->given & APIMCTL_OPT_NOT_BEFORE)
        && ctx->not_before >= ctx->expires)
    {
        return apimctl_usage("--not-before is not before --expires");
    }

    rc = apimctl_build_metadata(ctx);
    if (rc != APIMCTL_OK) {
        return rc;
    }

    return apimctl_check_arg(ctx);
}


static int
apimctl_check_arg(apimctl_ctx_t *ctx)
{
    size_t  n;

    switch (ctx->cmd->arg) {

    case APIMCTL_ARG_NAME:
        if (!ngx_apim_name_valid(ctx->arg, strlen(ctx->arg))) {
            return apimctl_usage("invalid consumer name %s: use "
                                 APIMCTL_NAME_RULE, apimctl_quote(ctx->arg));
        }

        break;

    case APIMCTL_ARG_ID:
        if (!apimctl_id_valid(ctx->arg)) {
            /* it may be a key given by mistake: never echo it */
            return apimctl_usage("the argument is not a key id (\"ak_\" or "
                                 "\"ik_\" and 11 letters or digits)");
        }

        break;

    case APIMCTL_ARG_KEY:
        if (strcmp(ctx->arg, "-") == 0) {
            if (apimctl_read_key(ctx) != APIMCTL_OK) {
                return APIMCTL_FAILED;
            }

        } else {
            n = strlen(ctx->arg);

            if (n > NGX_APIM_KEY_MAX) {
                n = NGX_APIM_KEY_MAX + 1;
            }

            memcpy(ctx->key, ctx->arg, n);
            ctx->key_len = n;
        }

        if (!ngx_apim_key_valid((unsigned char *) ctx->key, ctx->key_len)) {
            return apimctl_usage("the key is not valid: a key is %d to %d "
                                 "printable ASCII characters, no spaces",
                                 NGX_APIM_KEY_MIN, NGX_APIM_KEY_MAX);
        }

        break;

    default:
        break;
    }

    return APIMCTL_OK;
}


/*
 * One line from stdin: the key, kept out of the process list; a line
 * longer than the buffer makes a key too long to be valid.
 */

static int
apimctl_read_key(apimctl_ctx_t *ctx)
{
    int     c;
    size_t  n;

    for (n = 0; n < sizeof(ctx->key); n++) {
        c = getc(stdin);

        if (c == EOF || c == '\n') {
            break;
        }

        ctx->key[n] = (char) c;
    }

    if (ferror(stdin)) {
        fprintf(stderr, "apimctl: cannot read the key from stdin: %s\n",
                strerror(errno));
        return APIMCTL_FAILED;
    }

    if (n && n < sizeof(ctx->key) && ctx->key[n - 1] == '\r') {
        n--;
    }

    ctx->key_len = n;

    return APIMCTL_OK;
}


static int
apimctl_usage(const char *fmt, ...)
{
    va_list  args;

    fputs("apimctl: ", stderr);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fputs("\nsee apimctl --help\n", stderr);

    return APIMCTL_USAGE;
}


static void
apimctl_help(void)
{
    const apimctl_command_t  *c;

    printf("usage: apimctl -s <store-dir> [--secret <file>] [--size <size>] "
           "<command> ...\n\n"
           "Manages the consumers and API keys in an nginx-apim store.\n\n"
           "commands:\n");

    for (c = apimctl_commands; c->group; c++) {
        printf("  %s%s%s%s%s\n      %s\n", c->group, c->name ? " " : "",
               c->name ? c->name : "", c->usage[0] ? " " : "", c->usage,
               c->help);
    }

    printf("\noptions:\n"
      "  -s, --store <dir>   the store directory, made if missing "
      "(default: $APIM_STORE)\n"
      "  --secret <file>     the secret keys are hashed with: the file of "
      "nginx's\n"
      "                      apim_secret (default: <store-dir>/secret, made "
      "if missing)\n"
      "  --size <size>       the store's size limit: 64m, 1g (default: "
      APIMCTL_SIZE_DEFAULT ")\n"
      "  --plan <plan>       the plan (of a key: instead of its consumer's)\n"
      "  --consumer <name>   the consumer a key belongs to\n"
      "  --expires <when>    the key stops working then\n"
      "  --not-before <when> the key starts working then\n"
      "  --apis <a,b>        the APIs the key may call (default: its plan's)\n"
      "  --meta <k=v>        metadata, a JSON object of strings; repeatable\n"
      "  -h, --help          this text\n"
      "  --version           the version\n\n"
      "<when> is a time from now (45s, 15m, 12h, 30d, 2w) or an RFC 3339 "
      "time\n"
      "(2027-01-31T00:00:00Z, 2027-01-31T09:00:00+09:00).  Names are "
      APIMCTL_NAME_RULE ".\n\n"
      "A key is shown once, when \"key add\" makes it: the store keeps only "
      "its HMAC\nunder the secret.  Exit status: 0 done, 1 failed, "
      "2 bad usage.\n");
}


/* a value for a message: printable, short, quoted */

static const char *
apimctl_quote(const char *s)
{
    size_t       n;
    static char  buf[100];

    n = 0;
    buf[n++] = '"';

    for ( /* void */ ; *s && n < sizeof(buf) - 10; s++) {
        if (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') {
            buf[n++] = *s;

        } else {
            n += snprintf(buf + n, 5, "\\x%02x", (unsigned char) *s);
        }
    }

    if (*s) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }

    buf[n++] = '"';
    buf[n] = '\0';

    return buf;
}


static int
apimctl_set_store(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    if (value[0] == '\0') {
        return apimctl_usage("%s needs a directory", name);
    }

    ctx->store = value;

    return APIMCTL_OK;
}


static int
apimctl_set_secret(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    if (value[0] == '\0') {
        return apimctl_usage("%s needs a file", name);
    }

    ctx->secret = value;

    return APIMCTL_OK;
}


/* like nginx's sizes: a number of bytes, or with k, m or g */

static int
apimctl_set_size(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    size_t       n, unit;
    const char  *p;

    n = 0;

    for (p = value; *p >= '0' && *p <= '9'; p++) {
        if (n > (SIZE_MAX - 9) / 10) {
            goto invalid;
        }

        n = n * 10 + (*p - '0');
    }

    if (p == value) {
        goto invalid;
    }

    switch (*p) {
    case '\0':
        unit = 1;
        break;
    case 'k': case 'K':
        unit = 1024;
        break;
    case 'm': case 'M':
        unit = 1024 * 1024;
        break;
    case 'g': case 'G':
        unit = 1024 * 1024 * 1024;
        break;
    default:
        goto invalid;
    }

    if (unit > 1 && p[1] != '\0') {
        goto invalid;
    }

    if (n > SIZE_MAX / unit) {
        goto invalid;
    }

    n *= unit;

    if (n < APIMCTL_SIZE_MIN) {
        return apimctl_usage("%s %s is too small: the least is 1m", name,
                             apimctl_quote(value));
    }

    ctx->size = n;
    ctx->size_text = value;

    return APIMCTL_OK;

invalid:

    return apimctl_usage("invalid %s %s: use a size like 64m or 1g", name,
                         apimctl_quote(value));
}


static int
apimctl_set_name(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    if (!ngx_apim_name_valid(value, strlen(value))) {
        return apimctl_usage("invalid %s %s: use " APIMCTL_NAME_RULE, name,
                             apimctl_quote(value));
    }

    if (strcmp(name, "--plan") == 0) {
        ctx->plan = value;

    } else {
        ctx->consumer = value;
    }

    return APIMCTL_OK;
}


static int
apimctl_set_time(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    int64_t  t;

    if (apimctl_parse_time(value, ctx->now, &t) != 0) {
        return apimctl_usage("invalid %s %s: use a time from now (30d, 12h, "
                             "15m, 45s, 2w) or an RFC 3339 time "
                             "(2027-01-31T00:00:00Z)", name,
                             apimctl_quote(value));
    }

    if (strcmp(name, "--expires") == 0) {
        if (t <= ctx->now) {
            return apimctl_usage("%s %s is not in the future", name,
                                 apimctl_quote(value));
        }

        ctx->expires = t;

    } else {
        ctx->not_before = t;
    }

    return APIMCTL_OK;
}


/* a list of API names: "a,b" */

static int
apimctl_set_apis(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    size_t       n;
    const char  *p, *comma;

    for (p = value; /* void */ ; p = comma + 1) {
        comma = strchr(p, ',');
        n = comma ? (size_t) (comma - p) : strlen(p);

        if (!ngx_apim_name_valid(p, n)) {
            return apimctl_usage("invalid %s %s: a list of API names, each "
                                 APIMCTL_NAME_RULE, name,
                                 apimctl_quote(value));
        }

        if (comma == NULL) {
            break;
        }
    }

    ctx->apis = value;

    return APIMCTL_OK;
}


static int
apimctl_set_meta(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    size_t       n;
    unsigned     i;
    const char  *eq;

    eq = strchr(value, '=');

    if (eq == NULL || eq == value) {
        return apimctl_usage("invalid %s %s: use key=value", name,
                             apimctl_quote(value));
    }

    n = eq - value;

    if (!apimctl_utf8_valid((const unsigned char *) value, strlen(value))) {
        return apimctl_usage("invalid %s %s: not UTF-8 text", name,
                             apimctl_quote(value));
    }

    for (i = 0; i < ctx->nmeta; i++) {
        if (strlen(ctx->meta[i].key) == n
            && strncmp(ctx->meta[i].key, value, n) == 0)
        {
            return apimctl_usage("%s %s: the key is given twice", name,
                                 apimctl_quote(value));
        }
    }

    if (ctx->nmeta == APIMCTL_META_MAX) {
        return apimctl_usage("at most %d %s options", APIMCTL_META_MAX, name);
    }

    /* the key is the text before "=": copy it to end it there */

    ctx->meta[ctx->nmeta].key = strndup(value, n);
    if (ctx->meta[ctx->nmeta].key == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    ctx->meta[ctx->nmeta].value = eq + 1;
    ctx->nmeta++;

    return APIMCTL_OK;
}


/* a duration from now (30d, 12h, 15m, 45s, 2w) or an RFC 3339 time */

static int
apimctl_parse_time(const char *s, time_t now, int64_t *t)
{
    int64_t      n, unit;
    const char  *p;

    n = 0;

    for (p = s; *p >= '0' && *p <= '9' && p - s < 9; p++) {
        n = n * 10 + (*p - '0');
    }

    if (p > s && p[0] != '\0' && p[1] == '\0') {

        switch (*p) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        case 'w':
            unit = 7 * 86400;
            break;
        default:
            return -1;
        }

        *t = (int64_t) now + n * unit;

        return (*t > APIMCTL_TIME_MAX) ? -1 : 0;
    }

    return apimctl_parse_rfc3339(s, t);
}


/*
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm); the fraction is
 * dropped, as the records count whole seconds
 */

static int
apimctl_parse_rfc3339(const char *s, int64_t *t)
{
    int          y, mo, d, h, mi, sec, oh, om, mdays;
    int64_t      v, off;
    const char  *p;

    static const int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                 31 };

    if (strlen(s) < 20
        || apimctl_digits(s, 4, &y) != 0 || s[4] != '-'
        || apimctl_digits(s + 5, 2, &mo) != 0 || s[7] != '-'
        || apimctl_digits(s + 8, 2, &d) != 0
        || (s[10] != 'T' && s[10] != 't')
        || apimctl_digits(s + 11, 2, &h) != 0 || s[13] != ':'
        || apimctl_digits(s + 14, 2, &mi) != 0 || s[16] != ':'
        || apimctl_digits(s + 17, 2, &sec) != 0)
    {
        return -1;
    }

    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60) {
        return -1;
    }

    mdays = days[mo - 1];

    if (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) {
        mdays = 29;
    }

    if (d < 1 || d > mdays) {
        return -1;
    }

    p = s + 19;

    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) { /* void */ }

        if (p == s + 20) {
            return -1;
        }
    }

    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off = 0;

    } else if ((*p == '+' || *p == '-') && strlen(p) == 6
               && apimctl_digits(p + 1, 2, &oh) == 0 && p[3] == ':'
               && apimctl_digits(p + 4, 2, &om) == 0
               && oh <= 23 && om <= 59)
    {
        off = (oh * 60 + om) * 60;

        if (*p == '-') {
            off = -off;
        }

    } else {
        return -1;
    }

    v = apimctl_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;

    if (v <= 0 || v > APIMCTL_TIME_MAX) {
        return -1;
    }

    *t = v;

    return 0;
}


static int
apimctl_digits(const char *p, int n, int *v)
{
    int  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (p[i] - '0');
    }

    return 0;
}


/* days since 1970-01-01 of a proleptic Gregorian date (y >= 0) */

static int64_t
apimctl_days(int y, int m, int d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


static const char *
apimctl_time(int64_t t, char buf[APIMCTL_TIME_LEN])
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL
        || strftime(buf, APIMCTL_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        return "-";
    }

    return buf;
}


/* --meta k=v... as a JSON object of strings */

static int
apimctl_build_metadata(apimctl_ctx_t *ctx)
{
    char      *p;
    size_t     n;
    unsigned   i;

    if (ctx->nmeta == 0) {
        return APIMCTL_OK;
    }

    /* a byte takes at most 6 ("\u001f"), a pair 6 more ("":"",) */

    n = 2;

    for (i = 0; i < ctx->nmeta; i++) {
        n += 6 * (strlen(ctx->meta[i].key) + strlen(ctx->meta[i].value)) + 6;
    }

    ctx->metadata = malloc(n);
    if (ctx->metadata == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    p = ctx->metadata;
    *p++ = '{';

    for (i = 0; i < ctx->nmeta; i++) {
        if (i) {
            *p++ = ',';
        }

        p = apimctl_json_string(p, ctx->meta[i].key);
        *p++ = ':';
        p = apimctl_json_string(p, ctx->meta[i].value);

        free((void *) ctx->meta[i].key);
        ctx->meta[i].key = NULL;
    }

    *p++ = '}';

    ctx->metadata_len = p - ctx->metadata;

    if (ctx->metadata_len > APIMCTL_METADATA_MAX) {
        return apimctl_usage("the metadata is too long: %zu bytes of JSON, "
                             "the most is %d", ctx->metadata_len,
                             APIMCTL_METADATA_MAX);
    }

    return APIMCTL_OK;
}


static char *
apimctl_json_string(char *p, const char *s)
{
    unsigned char  c;

    *p++ = '"';

    for ( /* void */ ; *s; s++) {
        c = (unsigned char) *s;

        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = c;

        } else if (c == '\n') {
            *p++ = '\\';
            *p++ = 'n';

        } else if (c == '\t') {
            *p++ = '\\';
            *p++ = 't';

        } else if (c < 0x20) {
            p += sprintf(p, "\\u%04x", c);

        } else {
            *p++ = c;
        }
    }

    *p++ = '"';

    return p;
}


static int
apimctl_utf8_valid(const unsigned char *p, size_t len)
{
    size_t    i, k, n;
    uint32_t  c, min;

    for (i = 0; i < len; i += n + 1) {
        c = p[i];

        if (c < 0x80) {
            n = 0;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            c &= 0x1f;
            min = 0x80;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            c &= 0x0f;
            min = 0x800;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            c &= 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (len - i - 1 < n) {
            return 0;
        }

        for (k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            c = (c << 6) | (p[i + k] & 0x3f);
        }

        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


/* a key id: a prefix of lowercase letters and "_", then 11 base62 */

static int
apimctl_id_valid(const char *id)
{
    size_t  i, n;

    n = strlen(id);

    if (n < 13 || n > NGX_APIM_ID_LEN || id[n - 12] != '_') {
        return 0;
    }

    for (i = 0; i < n - 12; i++) {
        if (id[i] < 'a' || id[i] > 'z') {
            return 0;
        }
    }

    for (i = n - 11; i < n; i++) {
        if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z')
              || (id[i] >= '0' && id[i] <= '9')))
        {
            return 0;
        }
    }

    return 1;
}


static int
apimctl_open(apimctl_ctx_t *ctx)
{
    int  rc;

    if (mkdir(ctx->store, 0700) == -1 && errno != EEXIST) {
        fprintf(stderr, "apimctl: cannot make the store directory \"%s\": "
                "%s\n", ctx->store, strerror(errno));
        return APIMCTL_FAILED;
    }

    rc = ngx_apim_store_open(&ctx->st, ctx->store, ctx->size,
                             APIMCTL_MAXREADERS, NGX_APIM_STORE_CREATE);

    if (rc != NGX_APIM_STORE_OK) {
        fprintf(stderr, "apimctl: %s\n", ctx->st.err);
        return APIMCTL_FAILED;
    }

    return apimctl_open_secret(ctx);
}


/*
 * The secret is the one nginx's apim_secret names, or the store's own,
 * made on first use as nginx makes it; the store refuses any other.
 */

static int
apimctl_open_secret(apimctl_ctx_t *ctx)
{
    int            rc;
    char           path[PATH_MAX];
    size_t         len;
    const char    *file;
    char           err[NGX_APIM_STORE_ERRLEN];
    unsigned char  secret[NGX_APIM_SECRET_MAX];

    file = ctx->secret;

    if (file == NULL) {
        rc = snprintf(path, sizeof(path), "%s/%s", ctx->store,
                      NGX_APIM_SECRET_FILE);

        if (rc < 0 || (size_t) rc >= sizeof(path)) {
            fprintf(stderr, "apimctl: the store path is too long\n");
            return APIMCTL_FAILED;
        }

        if (ngx_apim_secret_create(path, err, sizeof(err)) != 0) {
            fprintf(stderr, "apimctl: %s\n", err);
            return APIMCTL_FAILED;
        }

        file = path;
    }

    len = sizeof(secret);

    if (ngx_apim_secret_read(file, secret, &len, err, sizeof(err)) != 0) {
        fprintf(stderr, "apimctl: %s\n", err);
        return APIMCTL_FAILED;
    }

    ngx_apim_hmac_init(&ctx->hmac, secret, len);
    OPENSSL_cleanse(secret, sizeof(secret));

    rc = ngx_apim_secret_check(&ctx->st, &ctx->hmac, err, sizeof(err));

    if (rc == NGX_APIM_STORE_FULL) {
        return apimctl_store_error(ctx, rc);
    }

    if (rc != NGX_APIM_STORE_OK) {
        fprintf(stderr, "apimctl: %s (secret \"%s\")\n", err, file);
        return APIMCTL_FAILED;
    }

    return APIMCTL_OK;
}


static int
apimctl_store_error(apimctl_ctx_t *ctx, int rc)
{
    if (rc == NGX_APIM_STORE_FULL) {
        fprintf(stderr, "apimctl: the store is full (size=%s): revoke keys "
                "or raise --size\n", ctx->size_text);

    } else {
        fprintf(stderr, "apimctl: %s\n", ctx->st.err);
    }

    return APIMCTL_FAILED;
}


static int
apimctl_consumer_add(apimctl_ctx_t *ctx)
{
    int                      rc;
    size_t                   size;
    unsigned char           *buf;
    char                     id[NGX_APIM_ID_LEN + 1];
    ngx_apim_consumer_rec_t  rec;

    if (ngx_apim_id_generate("c_", id) != 0) {
        fprintf(stderr, "apimctl: RAND_bytes() failed\n");
        return APIMCTL_FAILED;
    }

    memset(&rec, 0, sizeof(ngx_apim_consumer_rec_t));

    rec.name.data = ctx->arg;
    rec.name.len = strlen(ctx->arg);
    rec.id.data = id;
    rec.id.len = strlen(id);
    rec.plan.data = ctx->plan;
    rec.plan.len = strlen(ctx->plan);
    rec.metadata.data = ctx->metadata;
    rec.metadata.len = ctx->metadata_len;
    rec.created = ctx->now;

    size = ngx_apim_consumer_rec_size(&rec);

    buf = malloc(size);
    if (buf == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    ngx_apim_consumer_rec_encode(&rec, buf);

    rc = ngx_apim_store_insert(&ctx->st, NGX_APIM_DB_CONSUMERS, rec.name.data,
                               rec.name.len, buf, size);

    free(buf);

    if (rc == NGX_APIM_STORE_EXISTS) {
        fprintf(stderr, "apimctl: consumer \"%s\" exists\n", ctx->arg);
        return APIMCTL_FAILED;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    printf("%s\n", ctx->arg);

    return APIMCTL_OK;
}


static int
apimctl_consumer_list(apimctl_ctx_t *ctx)
{
    int             rc;
    apimctl_list_t  list;

    list.ctx = ctx;
    list.damaged = 0;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    rc = ngx_apim_store_iterate(&ctx->st, NGX_APIM_DB_CONSUMERS, NULL, 0,
                                apimctl_consumer_list_handler, &list);

    ngx_apim_store_read_end(&ctx->st);

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    return list.damaged ? APIMCTL_FAILED : APIMCTL_OK;
}


static int
apimctl_consumer_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data)
{
    apimctl_list_t  *list = data;

    ngx_apim_consumer_rec_t  rec;

    if (ngx_apim_consumer_rec_decode(&rec, val->data, val->len) != 0) {
        fprintf(stderr, "apimctl: the record of consumer \"%.*s\" is "
                "damaged\n", (int) key->len, (const char *) key->data);
        list->damaged = 1;
        return NGX_APIM_STORE_OK;
    }

    printf("%.*s\t%.*s\t%.*s\n", (int) rec.name.len, rec.name.data,
           (int) rec.id.len, rec.id.data, (int) rec.plan.len, rec.plan.data);

    return NGX_APIM_STORE_OK;
}


static int
apimctl_consumer_show(apimctl_ctx_t *ctx)
{
    int                      rc;
    char                     tbuf[APIMCTL_TIME_LEN];
    ngx_apim_val_t           val;
    ngx_apim_consumer_rec_t  rec;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_CONSUMERS, ctx->arg,
                            strlen(ctx->arg), &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: consumer \"%s\" not found\n", ctx->arg);
        rc = APIMCTL_FAILED;

    } else if (rc != NGX_APIM_STORE_OK) {
        rc = apimctl_store_error(ctx, rc);

    } else if (ngx_apim_consumer_rec_decode(&rec, val.data, val.len) != 0) {
        fprintf(stderr, "apimctl: the record of consumer \"%s\" is "
                "damaged\n", ctx->arg);
        rc = APIMCTL_FAILED;

    } else {
        apimctl_field("name", &rec.name);
        apimctl_field("id", &rec.id);
        apimctl_field("plan", &rec.plan);
        printf("created: %s\n", apimctl_time(rec.created, tbuf));
        apimctl_field("metadata", &rec.metadata);
        rc = APIMCTL_OK;
    }

    ngx_apim_store_read_end(&ctx->st);

    return rc;
}


/*
 * The consumer and every key of it, in one transaction: no key is left
 * whose consumer is gone.  Usage counts stay (they are kept by key id).
 */

static int
apimctl_consumer_delete(apimctl_ctx_t *ctx)
{
    int  rc;

    rc = ngx_apim_store_write(&ctx->st, apimctl_consumer_delete_handler,
                              (void *) ctx->arg);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: consumer \"%s\" not found\n", ctx->arg);
        return APIMCTL_FAILED;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    printf("%s\n", ctx->arg);

    return APIMCTL_OK;
}


static int
apimctl_consumer_delete_handler(ngx_apim_store_t *st, MDB_txn *txn,
    void *data)
{
    const char  *name = data;

    int                  rc;
    size_t               len;
    MDB_val              k, v;
    MDB_cursor          *cur;
    ngx_apim_key_rec_t   rec;

    len = strlen(name);

    rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_CONSUMERS, name, len);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    rc = mdb_cursor_open(txn, st->dbi[NGX_APIM_DB_KEYS], &cur);
    if (rc != MDB_SUCCESS) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_open() failed");
    }

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (ngx_apim_key_rec_decode(&rec, v.mv_data, v.mv_size) != 0
            || rec.consumer.len != len
            || memcmp(rec.consumer.data, name, len) != 0)
        {
            continue;
        }

        /* the id first: the record it points into goes next */

        rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_KEY_IDS,
                                       rec.id.data, rec.id.len);
        if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
            mdb_cursor_close(cur);
            return rc;
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != MDB_SUCCESS) {
            mdb_cursor_close(cur);
            /* MDB_MAP_FULL: the map grows and this runs again */
            return ngx_apim_store_fail(st, rc, "mdb_cursor_del() failed");
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        return ngx_apim_store_fail(st, rc, "mdb_cursor_get() failed");
    }

    return NGX_APIM_STORE_OK;
}


static int
apimctl_key_add(apimctl_ctx_t *ctx)
{
    int   rc, tries;
    char  id[NGX_APIM_ID_LEN + 1];
    char  key[NGX_APIM_KEY_LEN + 1];

    for (tries = 0; /* void */ ; tries++) {
        if (ngx_apim_key_generate(key, id) != 0) {
            fprintf(stderr, "apimctl: RAND_bytes() failed\n");
            return APIMCTL_FAILED;
        }

        rc = apimctl_key_put(ctx, key, NGX_APIM_KEY_LEN, id);

        if (rc != APIMCTL_RETRY || tries == 2) {
            break;
        }
    }

    if (rc != APIMCTL_OK) {
        OPENSSL_cleanse(key, sizeof(key));
        return (rc == APIMCTL_RETRY) ? APIMCTL_FAILED : rc;
    }

    /* written past stdio, so that no buffer is left holding the key */

    key[NGX_APIM_KEY_LEN] = '\n';
    rc = apimctl_write(STDOUT_FILENO, key, NGX_APIM_KEY_LEN + 1);
    OPENSSL_cleanse(key, sizeof(key));

    if (rc != 0) {
        /* nobody has seen the key: keep no key nobody has */
        fprintf(stderr, "apimctl: cannot write the key to stdout: %s; "
                "key %s is revoked\n", strerror(errno), id);
        (void) apimctl_key_delete(ctx, id);
        return APIMCTL_FAILED;
    }

    fprintf(stderr, "apimctl: key %s created; the key is shown only this "
            "once\n", id);

    return APIMCTL_OK;
}


static int
apimctl_write(int fd, const char *buf, size_t len)
{
    ssize_t  n;

    if (fflush(stdout) != 0) {
        return -1;
    }

    while (len) {
        n = write(fd, buf, len);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            return -1;
        }

        buf += n;
        len -= n;
    }

    return 0;
}


static int
apimctl_key_import(apimctl_ctx_t *ctx)
{
    int   rc, tries;
    char  id[NGX_APIM_ID_LEN + 1];

    for (tries = 0; /* void */ ; tries++) {
        if (ngx_apim_id_generate("ik_", id) != 0) {
            fprintf(stderr, "apimctl: RAND_bytes() failed\n");
            return APIMCTL_FAILED;
        }

        rc = apimctl_key_put(ctx, ctx->key, ctx->key_len, id);

        if (rc != APIMCTL_RETRY || tries == 2) {
            break;
        }
    }

    if (rc != APIMCTL_OK) {
        return (rc == APIMCTL_RETRY) ? APIMCTL_FAILED : rc;
    }

    printf("%s\n", id);

    return APIMCTL_OK;
}


/*
 * A migration: the keys of a file, one a line, stored APIMCTL_BATCH to a
 * transaction with the same consumer, plan and options.  A key already in
 * the store is left as it is (counted, not an error), so that the same
 * file can be imported again; an invalid line stops the import, naming
 * its number, never its text.
 */

static int
apimctl_key_import_file(apimctl_ctx_t *ctx)
{
    int                  rc;
    FILE                *f;
    char                *line, *p;
    size_t               cap, len, i, lineno, total, existed;
    ssize_t              n;
    apimctl_batch_t      b;
    ngx_apim_key_rec_t   rec;
    char                 placeholder[NGX_APIM_ID_LEN + 1];

    f = fopen(ctx->arg, "r");
    if (f == NULL) {
        fprintf(stderr, "apimctl: cannot open %s: %s\n",
                apimctl_quote(ctx->arg), strerror(errno));
        return APIMCTL_FAILED;
    }

    memset(&b, 0, sizeof(apimctl_batch_t));
    memset(&rec, 0, sizeof(ngx_apim_key_rec_t));
    memset(placeholder, 'x', NGX_APIM_ID_LEN);
    placeholder[NGX_APIM_ID_LEN] = '\0';

    /* one record for all: only the id differs, written in place */

    rec.id.data = placeholder;
    rec.id.len = NGX_APIM_ID_LEN;
    rec.consumer.data = ctx->consumer;
    rec.consumer.len = strlen(ctx->consumer);
    rec.plan.data = ctx->plan;
    rec.plan.len = ctx->plan ? strlen(ctx->plan) : 0;
    rec.apis.data = ctx->apis;
    rec.apis.len = ctx->apis ? strlen(ctx->apis) : 0;
    rec.metadata.data = ctx->metadata;
    rec.metadata.len = ctx->metadata_len;
    rec.created = ctx->now;
    rec.not_before = ctx->not_before;
    rec.expires_at = ctx->expires;

    b.ctx = ctx;
    b.rec_len = ngx_apim_key_rec_size(&rec);
    b.rec = malloc(b.rec_len);
    b.ids = malloc(APIMCTL_BATCH * sizeof(*b.ids));
    b.hashes = malloc(APIMCTL_BATCH * sizeof(*b.hashes));

    if (b.rec == NULL || b.ids == NULL || b.hashes == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        rc = APIMCTL_FAILED;
        goto done;
    }

    ngx_apim_key_rec_encode(&rec, b.rec);

    p = memmem(b.rec, b.rec_len, placeholder, NGX_APIM_ID_LEN);
    b.id_offset = (unsigned char *) p - b.rec;

    line = NULL;
    cap = 0;
    lineno = 0;
    total = 0;
    existed = 0;

    /* the consumer, and every line, are checked before any key is stored */

    rc = apimctl_consumer_exists(ctx);

    if (rc == APIMCTL_OK) {
        rc = apimctl_key_file_check(ctx, f, &line, &cap);
    }

    for ( ;; ) {
        if (rc != APIMCTL_OK) {
            break;
        }

        n = getline(&line, &cap, f);

        if (n != -1) {
            lineno++;
            len = (size_t) n;

            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
                len--;
            }

            if (len == 0) {
                continue;
            }

            if (b.n == 0) {
                b.line = lineno;
            }

            if (ngx_apim_id_generate("ik_", b.ids[b.n]) != 0) {
                fprintf(stderr, "apimctl: RAND_bytes() failed\n");
                rc = APIMCTL_FAILED;
                break;
            }

            ngx_apim_hmac(&ctx->hmac, (unsigned char *) line, len,
                          b.hashes[b.n]);
            b.n++;
        }

        if (b.n == APIMCTL_BATCH || (n == -1 && b.n)) {
            rc = ngx_apim_store_write(&ctx->st, apimctl_key_batch_handler, &b);

            if (b.no_consumer) {
                fprintf(stderr, "apimctl: consumer \"%s\" not found\n",
                        ctx->consumer);
                rc = APIMCTL_FAILED;
                break;
            }

            if (rc != NGX_APIM_STORE_OK) {
                rc = apimctl_store_error(ctx, rc);
                fprintf(stderr, "apimctl: %zu keys were stored before line "
                        "%zu\n", total, b.line);
                break;
            }

            for (i = 0; i < b.n; i++) {
                printf("%s\n", b.ids[i]);
            }

            total += b.n;
            existed += b.existed;
            b.n = 0;
        }

        if (n == -1) {
            break;
        }
    }

    if (line) {
        OPENSSL_cleanse(line, cap);
        free(line);
    }

    if (rc == APIMCTL_OK) {
        fprintf(stderr, "apimctl: %zu keys read: %zu stored, %zu there "
                "already (with the ids they had)\n", total, total - existed,
                existed);
    }

done:

    fclose(f);
    free(b.rec);
    free(b.ids);
    free(b.hashes);

    return rc;
}


static int
apimctl_consumer_exists(apimctl_ctx_t *ctx)
{
    int             rc;
    ngx_apim_val_t  val;

    rc = ngx_apim_store_read_begin(&ctx->st);

    if (rc == NGX_APIM_STORE_OK) {
        rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_CONSUMERS, ctx->consumer,
                                strlen(ctx->consumer), &val);
        ngx_apim_store_read_end(&ctx->st);
    }

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: consumer \"%s\" not found\n", ctx->consumer);
        return APIMCTL_FAILED;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    return APIMCTL_OK;
}


/* the first pass of import-file: every non-empty line is a valid key */

static int
apimctl_key_file_check(apimctl_ctx_t *ctx, FILE *f, char **line, size_t *cap)
{
    size_t   len, lineno;
    ssize_t  n;

    lineno = 0;

    while ((n = getline(line, cap, f)) != -1) {
        lineno++;
        len = (size_t) n;

        while (len && ((*line)[len - 1] == '\n' || (*line)[len - 1] == '\r')) {
            len--;
        }

        if (len && !ngx_apim_key_valid((unsigned char *) *line, len)) {
            fprintf(stderr, "apimctl: line %zu of %s is not a valid key (a "
                    "key is %d to %d printable ASCII characters); nothing "
                    "was stored\n", lineno, apimctl_quote(ctx->arg),
                    NGX_APIM_KEY_MIN, NGX_APIM_KEY_MAX);
            return APIMCTL_USAGE;
        }
    }

    if (ferror(f) || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "apimctl: cannot read %s: %s\n",
                apimctl_quote(ctx->arg), strerror(errno));
        return APIMCTL_FAILED;
    }

    return APIMCTL_OK;
}


static int
apimctl_key_batch_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    apimctl_batch_t  *b = data;

    int                  rc;
    size_t               i;
    ngx_apim_val_t       val;
    ngx_apim_key_rec_t   rec;
    const char          *consumer;

    /* it runs again if the map grows */

    b->existed = 0;
    b->no_consumer = 0;
    consumer = b->ctx->consumer;

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_CONSUMERS, consumer,
                                strlen(consumer), &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        b->no_consumer = 1;
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    for (i = 0; i < b->n; i++) {
        memcpy(b->rec + b->id_offset, b->ids[i], NGX_APIM_ID_LEN);

        rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEYS, b->hashes[i],
                                    NGX_APIM_HASH_LEN, b->rec, b->rec_len,
                                    MDB_NOOVERWRITE);

        if (rc == NGX_APIM_STORE_EXISTS) {
            /* report the id the key already has */

            b->existed++;

            if (ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEYS,
                                       b->hashes[i], NGX_APIM_HASH_LEN, &val)
                == NGX_APIM_STORE_OK
                && ngx_apim_key_rec_decode(&rec, val.data, val.len) == 0
                && rec.id.len == NGX_APIM_ID_LEN)
            {
                memcpy(b->ids[i], rec.id.data, NGX_APIM_ID_LEN);
            }

            continue;
        }

        if (rc != NGX_APIM_STORE_OK) {
            return rc;
        }

        rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEY_IDS, b->ids[i],
                                    NGX_APIM_ID_LEN, b->hashes[i],
                                    NGX_APIM_HASH_LEN, MDB_NOOVERWRITE);
        if (rc != NGX_APIM_STORE_OK) {
            /* a random id taken (1 in 62^11): the batch fails whole */
            return rc;
        }
    }

    return NGX_APIM_STORE_OK;
}


/*
 * keys[HMAC] = record and key_ids[id] = HMAC in one transaction, and
 * only for a consumer that exists in it
 */

static int
apimctl_key_put(apimctl_ctx_t *ctx, const char *key, size_t len,
    const char *id)
{
    int                 rc;
    size_t              size;
    unsigned char      *buf;
    apimctl_key_op_t    op;
    ngx_apim_key_rec_t  rec;
    unsigned char       hash[NGX_APIM_HASH_LEN];

    memset(&rec, 0, sizeof(ngx_apim_key_rec_t));

    rec.id.data = id;
    rec.id.len = strlen(id);
    rec.consumer.data = ctx->consumer;
    rec.consumer.len = strlen(ctx->consumer);

    if (ctx->plan) {
        rec.plan.data = ctx->plan;
        rec.plan.len = strlen(ctx->plan);
    }

    if (ctx->apis) {
        rec.apis.data = ctx->apis;
        rec.apis.len = strlen(ctx->apis);
    }

    rec.metadata.data = ctx->metadata;
    rec.metadata.len = ctx->metadata_len;
    rec.created = ctx->now;
    rec.not_before = ctx->not_before;
    rec.expires_at = ctx->expires;

    size = ngx_apim_key_rec_size(&rec);

    buf = malloc(size);
    if (buf == NULL) {
        fprintf(stderr, "apimctl: out of memory\n");
        return APIMCTL_FAILED;
    }

    ngx_apim_key_rec_encode(&rec, buf);

    ngx_apim_hmac(&ctx->hmac, (const unsigned char *) key, len, hash);

    memset(&op, 0, sizeof(apimctl_key_op_t));

    op.consumer = ctx->consumer;
    op.id = id;
    op.hash = hash;
    op.rec = buf;
    op.rec_len = size;

    rc = ngx_apim_store_write(&ctx->st, apimctl_key_put_handler, &op);

    free(buf);

    if (op.no_consumer) {
        fprintf(stderr, "apimctl: consumer \"%s\" not found\n",
                ctx->consumer);
        return APIMCTL_FAILED;
    }

    if (op.key_exists) {
        fprintf(stderr, "apimctl: this key exists already (id %s)\n",
                op.other[0] ? op.other : "unknown");
        return APIMCTL_FAILED;
    }

    if (op.id_exists) {
        return APIMCTL_RETRY;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    return APIMCTL_OK;
}


static int
apimctl_key_put_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    apimctl_key_op_t  *op = data;

    int                 rc;
    ngx_apim_val_t      val;
    ngx_apim_key_rec_t  rec;

    /* it runs again if the map grows */

    op->no_consumer = 0;
    op->key_exists = 0;
    op->id_exists = 0;
    op->other[0] = '\0';

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_CONSUMERS, op->consumer,
                                strlen(op->consumer), &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        op->no_consumer = 1;
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEYS, op->hash,
                                NGX_APIM_HASH_LEN, op->rec, op->rec_len,
                                MDB_NOOVERWRITE);

    if (rc == NGX_APIM_STORE_EXISTS) {
        op->key_exists = 1;

        if (ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEYS, op->hash,
                                   NGX_APIM_HASH_LEN, &val)
            == NGX_APIM_STORE_OK
            && ngx_apim_key_rec_decode(&rec, val.data, val.len) == 0
            && rec.id.len <= NGX_APIM_ID_LEN)
        {
            memcpy(op->other, rec.id.data, rec.id.len);
            op->other[rec.id.len] = '\0';
        }

        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    rc = ngx_apim_store_txn_put(st, txn, NGX_APIM_DB_KEY_IDS, op->id,
                                strlen(op->id), op->hash, NGX_APIM_HASH_LEN,
                                MDB_NOOVERWRITE);

    if (rc == NGX_APIM_STORE_EXISTS) {
        op->id_exists = 1;
    }

    return rc;
}


static int
apimctl_key_list(apimctl_ctx_t *ctx)
{
    int             rc;
    ngx_apim_val_t  val;
    apimctl_list_t  list;

    list.ctx = ctx;
    list.damaged = 0;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    if (ctx->consumer) {
        rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_CONSUMERS,
                                ctx->consumer, strlen(ctx->consumer), &val);

        if (rc == NGX_APIM_STORE_NOT_FOUND) {
            ngx_apim_store_read_end(&ctx->st);
            fprintf(stderr, "apimctl: consumer \"%s\" not found\n",
                    ctx->consumer);
            return APIMCTL_FAILED;
        }
    }

    if (rc == NGX_APIM_STORE_OK) {
        rc = ngx_apim_store_iterate(&ctx->st, NGX_APIM_DB_KEY_IDS, NULL, 0,
                                    apimctl_key_list_handler, &list);
    }

    ngx_apim_store_read_end(&ctx->st);

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    return list.damaged ? APIMCTL_FAILED : APIMCTL_OK;
}


static int
apimctl_key_list_handler(const ngx_apim_val_t *key,
    const ngx_apim_val_t *val, void *data)
{
    apimctl_list_t  *list = data;

    int                  rc;
    apimctl_ctx_t       *ctx;
    ngx_apim_key_rec_t   rec;

    ctx = list->ctx;

    rc = apimctl_key_get(ctx, key->data, key->len, &rec);

    if (rc == NGX_APIM_STORE_ERROR) {
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        list->damaged = 1;
        return NGX_APIM_STORE_OK;
    }

    if (ctx->consumer
        && (rec.consumer.len != strlen(ctx->consumer)
            || memcmp(rec.consumer.data, ctx->consumer, rec.consumer.len)
               != 0))
    {
        return NGX_APIM_STORE_OK;
    }

    printf("%.*s\t%.*s\t%.*s\t%s\n", (int) key->len, (const char *) key->data,
           (int) rec.consumer.len, rec.consumer.data,
           rec.plan.len ? (int) rec.plan.len : 1,
           rec.plan.len ? rec.plan.data : "-",
           apimctl_key_status(ctx, &rec));

    return NGX_APIM_STORE_OK;
}


/*
 * A key's record by its id, in the read transaction: OK, NOT_FOUND (no
 * such id), ERROR (reported), or NGX_APIM_STORE_EXISTS for a damaged or
 * missing record (reported).
 */

static int
apimctl_key_get(apimctl_ctx_t *ctx, const char *id, size_t len,
    ngx_apim_key_rec_t *rec)
{
    int             rc;
    ngx_apim_val_t  val;

    rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_KEY_IDS, id, len, &val);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return NGX_APIM_STORE_ERROR;
    }

    if (val.len == NGX_APIM_HASH_LEN) {
        rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_KEYS, val.data,
                                NGX_APIM_HASH_LEN, &val);

        if (rc == NGX_APIM_STORE_ERROR) {
            return rc;
        }

        if (rc == NGX_APIM_STORE_OK
            && ngx_apim_key_rec_decode(rec, val.data, val.len) == 0)
        {
            return NGX_APIM_STORE_OK;
        }
    }

    fprintf(stderr, "apimctl: the record of key \"%.*s\" is damaged\n",
            (int) len, id);

    return NGX_APIM_STORE_EXISTS;
}


static int
apimctl_key_show(apimctl_ctx_t *ctx)
{
    int                 rc;
    char                tbuf[APIMCTL_TIME_LEN];
    ngx_apim_key_rec_t  rec;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    rc = apimctl_key_get(ctx, ctx->arg, strlen(ctx->arg), &rec);

    if (rc == NGX_APIM_STORE_OK) {
        apimctl_field("id", &rec.id);
        apimctl_field("consumer", &rec.consumer);
        apimctl_field("plan", &rec.plan);
        apimctl_field("apis", &rec.apis);
        printf("created: %s\n", apimctl_time(rec.created, tbuf));
        printf("not_before: %s\n", apimctl_time(rec.not_before, tbuf));
        printf("expires_at: %s\n", apimctl_time(rec.expires_at, tbuf));
        printf("status: %s\n", apimctl_key_status(ctx, &rec));
        apimctl_field("metadata", &rec.metadata);
    }

    ngx_apim_store_read_end(&ctx->st);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: key \"%s\" not found\n", ctx->arg);
        return APIMCTL_FAILED;
    }

    if (rc == NGX_APIM_STORE_ERROR) {
        return apimctl_store_error(ctx, rc);
    }

    return (rc == NGX_APIM_STORE_OK) ? APIMCTL_OK : APIMCTL_FAILED;
}


static int
apimctl_key_revoke(apimctl_ctx_t *ctx)
{
    int  rc;

    rc = apimctl_key_delete(ctx, ctx->arg);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: key \"%s\" not found\n", ctx->arg);
        return APIMCTL_FAILED;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    printf("%s\n", ctx->arg);

    return APIMCTL_OK;
}


/* keys[HMAC] and key_ids[id] in one transaction; counters stay */

static int
apimctl_key_delete(apimctl_ctx_t *ctx, const char *id)
{
    return ngx_apim_store_write(&ctx->st, apimctl_key_delete_handler,
                                (void *) id);
}


static int
apimctl_key_delete_handler(ngx_apim_store_t *st, MDB_txn *txn, void *data)
{
    const char  *id = data;

    int             rc;
    size_t          len;
    ngx_apim_val_t  val;
    unsigned char   hash[NGX_APIM_HASH_LEN];

    len = strlen(id);

    rc = ngx_apim_store_txn_get(st, txn, NGX_APIM_DB_KEY_IDS, id, len, &val);
    if (rc != NGX_APIM_STORE_OK) {
        return rc;
    }

    if (val.len == NGX_APIM_HASH_LEN) {
        /* copied: the deletion may move the page it is in */
        memcpy(hash, val.data, NGX_APIM_HASH_LEN);

        rc = ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_KEYS, hash,
                                       NGX_APIM_HASH_LEN);

        if (rc != NGX_APIM_STORE_OK && rc != NGX_APIM_STORE_NOT_FOUND) {
            return rc;
        }
    }

    return ngx_apim_store_txn_delete(st, txn, NGX_APIM_DB_KEY_IDS, id, len);
}


static int
apimctl_usage_show(apimctl_ctx_t *ctx)
{
    int                   rc;
    char                  tbuf[APIMCTL_TIME_LEN];
    char                  name[sizeof(NGX_APIM_USAGE_PREFIX)
                               + NGX_APIM_ID_LEN];
    ngx_apim_val_t        val;
    ngx_apim_key_rec_t    rec;
    ngx_apim_usage_rec_t  usage;

    rc = ngx_apim_store_read_begin(&ctx->st);
    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    rc = apimctl_key_get(ctx, ctx->arg, strlen(ctx->arg), &rec);

    if (rc == NGX_APIM_STORE_OK) {
        snprintf(name, sizeof(name), "%s%s", NGX_APIM_USAGE_PREFIX,
                 ctx->arg);

        rc = ngx_apim_store_get(&ctx->st, NGX_APIM_DB_COUNTERS, name,
                                strlen(name), &val);

        if (rc == NGX_APIM_STORE_NOT_FOUND) {
            memset(&usage, 0, sizeof(ngx_apim_usage_rec_t));
            rc = NGX_APIM_STORE_OK;

        } else if (rc == NGX_APIM_STORE_OK
                   && ngx_apim_usage_rec_decode(&usage, val.data, val.len)
                      != 0)
        {
            fprintf(stderr, "apimctl: the usage record of key \"%s\" is "
                    "damaged\n", ctx->arg);
            rc = NGX_APIM_STORE_EXISTS;
        }
    }

    ngx_apim_store_read_end(&ctx->st);

    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: key \"%s\" not found\n", ctx->arg);
        return APIMCTL_FAILED;
    }

    if (rc == NGX_APIM_STORE_ERROR) {
        return apimctl_store_error(ctx, rc);
    }

    if (rc != NGX_APIM_STORE_OK) {
        return APIMCTL_FAILED;
    }

    printf("id: %s\n", ctx->arg);
    printf("window_start: %s\n", apimctl_time(usage.window_start, tbuf));
    printf("window_end: %s\n",
           apimctl_time(usage.window_start ? usage.window_end : 0, tbuf));
    printf("used: %lld\n", (long long) usage.count);

    return APIMCTL_OK;
}


static const char *
apimctl_key_status(apimctl_ctx_t *ctx, const ngx_apim_key_rec_t *rec)
{
    if (rec->flags & NGX_APIM_KEY_DISABLED) {
        return "disabled";
    }

    if (rec->expires_at && ctx->now >= rec->expires_at) {
        return "expired";
    }

    if (rec->not_before && ctx->now < rec->not_before) {
        return "not-yet-valid";
    }

    return "active";
}


static void
apimctl_field(const char *name, const ngx_apim_str_t *value)
{
    if (value->len == 0) {
        printf("%s: -\n", name);
        return;
    }

    printf("%s: %.*s\n", name, (int) value->len, value->data);
}
