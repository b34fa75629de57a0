
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
 *
 * This file is the command line: main(), the tables of commands and
 * options, parsing and checking the arguments (names, sizes, times,
 * metadata), the help, and opening the store and its secret.  The
 * commands are in apimctl_consumer.c and apimctl_key.c.
 */


#include "apimctl.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <openssl/crypto.h>


#define APIMCTL_OPT_GLOBAL        (APIMCTL_OPT_STORE|APIMCTL_OPT_SECRET      \
                                   |APIMCTL_OPT_SIZE)
#define APIMCTL_OPT_KEY           (APIMCTL_OPT_CONSUMER|APIMCTL_OPT_PLAN     \
                                   |APIMCTL_OPT_EXPIRES                      \
                                   |APIMCTL_OPT_NOT_BEFORE                   \
                                   |APIMCTL_OPT_APIS|APIMCTL_OPT_META)
#define APIMCTL_OPT_KEY_UPDATE    (APIMCTL_OPT_PLAN|APIMCTL_OPT_EXPIRES      \
                                   |APIMCTL_OPT_NOT_BEFORE                   \
                                   |APIMCTL_OPT_APIS|APIMCTL_OPT_META)

#define APIMCTL_ARG_NONE          0
#define APIMCTL_ARG_NAME          1      /* a consumer name */
#define APIMCTL_ARG_ID            2      /* a key id */
#define APIMCTL_ARG_KEY           3      /* a key, or "-": read stdin */
#define APIMCTL_ARG_FILE          4      /* a file of keys, one a line */
#define APIMCTL_ARG_STATE         5      /* an export file */

#define APIMCTL_MAXREADERS        126
#define APIMCTL_SIZE_DEFAULT      "1g"
#define APIMCTL_SIZE_MIN          (1024 * 1024)
#define APIMCTL_TIME_MAX          253402300799LL  /* 9999-12-31T23:59:59Z */
#define APIMCTL_GRACE_MAX         (365 * 86400)
#define APIMCTL_NAME_RULE         "1 to 64 characters of A-Z a-z 0-9 . _ -"


typedef int (*apimctl_handler_pt)(apimctl_ctx_t *ctx);
typedef int (*apimctl_set_pt)(apimctl_ctx_t *ctx, const char *name,
    const char *value);


struct apimctl_command_s {
    const char                *group;
    const char                *name;        /* NULL: the group is one */
    apimctl_handler_pt         handler;
    unsigned                   options;     /* allowed, besides global */
    unsigned                   required;
    unsigned                   any;         /* at least one of these */
    unsigned                   arg;
    const char                *usage;
    const char                *help;
};


typedef struct {
    const char                *name;
    const char                *alias;
    unsigned                   flag;
    unsigned                   novalue;     /* a switch: no value */
    apimctl_set_pt             set;
} apimctl_option_t;


static int apimctl_parse(apimctl_ctx_t *ctx, int argc, char **argv);
static int apimctl_option(apimctl_ctx_t *ctx, int argc, char **argv,
    int *i);
static int apimctl_word(apimctl_ctx_t *ctx, const char *word);
static int apimctl_check(apimctl_ctx_t *ctx);
static int apimctl_check_arg(apimctl_ctx_t *ctx);
static int apimctl_read_key(apimctl_ctx_t *ctx);
static int apimctl_usage(const char *fmt, ...);
static void apimctl_help(void);

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
static int apimctl_set_grace(apimctl_ctx_t *ctx, const char *name,
    const char *value);
static int apimctl_set_output(apimctl_ctx_t *ctx, const char *name,
    const char *value);
static int apimctl_set_prune(apimctl_ctx_t *ctx, const char *name,
    const char *value);

static int apimctl_parse_time(const char *s, time_t now, int64_t *t);
static int apimctl_digits(const char *p, int n, int *v);
static int64_t apimctl_days(int y, int m, int d);
static int apimctl_build_metadata(apimctl_ctx_t *ctx);
static char *apimctl_json_string(char *p, const char *s);
static int apimctl_utf8_valid(const unsigned char *p, size_t len);

static int apimctl_open(apimctl_ctx_t *ctx);
static int apimctl_open_secret(apimctl_ctx_t *ctx);


static const apimctl_command_t  apimctl_commands[] = {

    { "consumer", "add", apimctl_consumer_add,
      APIMCTL_OPT_PLAN|APIMCTL_OPT_META, APIMCTL_OPT_PLAN, 0,
      APIMCTL_ARG_NAME,
      "<name> --plan <plan> [--meta k=v]...",
      "add a consumer; prints its name" },

    { "consumer", "update", apimctl_consumer_update,
      APIMCTL_OPT_PLAN|APIMCTL_OPT_META, 0,
      APIMCTL_OPT_PLAN|APIMCTL_OPT_META, APIMCTL_ARG_NAME,
      "<name> [--plan <plan>] [--meta k=v]...",
      "change a consumer's plan or metadata (--meta k=v sets k and keeps\n"
      "        the others, --meta k= removes k); prints the name" },

    { "consumer", "list", apimctl_consumer_list,
      0, 0, 0, APIMCTL_ARG_NONE,
      "",
      "one line per consumer: name, id, plan" },

    { "consumer", "show", apimctl_consumer_show,
      0, 0, 0, APIMCTL_ARG_NAME,
      "<name>",
      "a consumer's fields" },

    { "consumer", "delete", apimctl_consumer_delete,
      0, 0, 0, APIMCTL_ARG_NAME,
      "<name>",
      "delete a consumer and revoke its keys; prints the name" },

    { "key", "add", apimctl_key_add,
      APIMCTL_OPT_KEY, APIMCTL_OPT_CONSUMER, 0, APIMCTL_ARG_NONE,
      "--consumer <name> [--plan <plan>] [--expires <when>]\n"
      "        [--not-before <when>] [--apis <a,b>] [--meta k=v]...",
      "make a key; prints it, this once only" },

    { "key", "import", apimctl_key_import,
      APIMCTL_OPT_KEY, APIMCTL_OPT_CONSUMER, 0, APIMCTL_ARG_KEY,
      "--consumer <name> [the options of key add] <key>|-",
      "store an existing key (\"-\": read it from stdin); prints its id" },

    { "key", "import-file", apimctl_key_import_file,
      APIMCTL_OPT_KEY, APIMCTL_OPT_CONSUMER, 0, APIMCTL_ARG_FILE,
      "--consumer <name> [the options of key add] <file>",
      "store the keys of a file, one a line, in batches (a migration);\n"
      "        prints the ids, one a line, in the file's order" },

    { "key", "list", apimctl_key_list,
      APIMCTL_OPT_CONSUMER|APIMCTL_OPT_PLAN, 0, 0, APIMCTL_ARG_NONE,
      "[--consumer <name>] [--plan <plan>]",
      "one line per key: id, consumer, plan, status (--plan: the keys\n"
      "        on the plan, their own or their consumer's)" },

    { "key", "show", apimctl_key_show,
      0, 0, 0, APIMCTL_ARG_ID,
      "<id>",
      "a key's fields (never the key)" },

    { "key", "update", apimctl_key_update,
      APIMCTL_OPT_KEY_UPDATE, 0, APIMCTL_OPT_KEY_UPDATE, APIMCTL_ARG_ID,
      "<id> [--plan <plan>|-] [--apis <a,b>|-] [--expires <when>|-]\n"
      "        [--not-before <when>|-] [--meta k=v]...",
      "change a key's fields (\"-\" removes the key's own value; --meta as\n"
      "        in consumer update); prints its id" },

    { "key", "rotate", apimctl_key_rotate,
      APIMCTL_OPT_GRACE, 0, 0, APIMCTL_ARG_ID,
      "<id> [--grace <seconds|30s|5m|1h>]",
      "make a new key with the old one's consumer, plan, APIs, times,\n"
      "        metadata and usage; prints it, this once only; the old key\n"
      "        stops after the grace (default 0: at once)" },

    { "key", "revoke", apimctl_key_revoke,
      0, 0, 0, APIMCTL_ARG_ID,
      "<id>",
      "delete a key; prints its id" },

    { "usage", NULL, apimctl_usage_show,
      0, 0, 0, APIMCTL_ARG_ID,
      "<id>",
      "a key's counted use in its current quota window" },

    { "usage", "reset", apimctl_usage_reset,
      0, 0, 0, APIMCTL_ARG_ID,
      "<id>",
      "zero a key's counted use, seen by nginx on the next request;\n"
      "        prints its id" },

    { "status", NULL, apimctl_status,
      0, 0, 0, APIMCTL_ARG_NONE,
      "",
      "the store: path, schema, sizes, secret fingerprint, record counts" },

    { "plans", NULL, apimctl_plans,
      0, 0, 0, APIMCTL_ARG_NONE,
      "",
      "the apim_plan lines of the nginx.conf whose nginx last started or\n"
      "        reloaded with this store" },

    { "export", NULL, apimctl_export,
      APIMCTL_OPT_OUTPUT, 0, 0, APIMCTL_ARG_NONE,
      "[--output <file>]",
      "the store's state as JSON: consumers, key records (their HMACs,\n"
      "        never a key) and usage; to stdout or the file" },

    { "import", NULL, apimctl_import,
      APIMCTL_OPT_PRUNE, 0, 0, APIMCTL_ARG_STATE,
      "[--prune] <file>|-",
      "make the store hold the state of an export file, in one\n"
      "        transaction (--prune: delete what the file does not hold)" },

    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL }
};


static const apimctl_option_t  apimctl_options[] = {
    { "--store", "-s", APIMCTL_OPT_STORE, 0, apimctl_set_store },
    { "--secret", NULL, APIMCTL_OPT_SECRET, 0, apimctl_set_secret },
    { "--size", NULL, APIMCTL_OPT_SIZE, 0, apimctl_set_size },
    { "--plan", NULL, APIMCTL_OPT_PLAN, 0, apimctl_set_name },
    { "--consumer", NULL, APIMCTL_OPT_CONSUMER, 0, apimctl_set_name },
    { "--expires", NULL, APIMCTL_OPT_EXPIRES, 0, apimctl_set_time },
    { "--not-before", NULL, APIMCTL_OPT_NOT_BEFORE, 0, apimctl_set_time },
    { "--apis", NULL, APIMCTL_OPT_APIS, 0, apimctl_set_apis },
    { "--meta", NULL, APIMCTL_OPT_META, 0, apimctl_set_meta },
    { "--grace", NULL, APIMCTL_OPT_GRACE, 0, apimctl_set_grace },
    { "--output", "-o", APIMCTL_OPT_OUTPUT, 0, apimctl_set_output },
    { "--prune", NULL, APIMCTL_OPT_PRUNE, 1, apimctl_set_prune },
    { NULL, NULL, 0, 0, NULL }
};


int
main(int argc, char **argv)
{
    int            rc;
    unsigned       i;
    apimctl_ctx_t  ctx;

    /* a closed stdout is an error to report, not a signal to die of */
    signal(SIGPIPE, SIG_IGN);

    memset(&ctx, 0, sizeof(apimctl_ctx_t));

    ctx.now = time(NULL);

    rc = apimctl_set_size(&ctx, "--size", APIMCTL_SIZE_DEFAULT);

    if (rc == APIMCTL_OK) {
        /* "mesh ..." parses its own command line (apimctl_mesh.c) */

        rc = apimctl_mesh_main(&ctx, argc, argv);

        if (rc != APIMCTL_RETRY) {
            ngx_apim_store_close(&ctx.st);
            goto done;
        }

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

done:

    for (i = 0; i < ctx.nmeta; i++) {
        free((void *) ctx.meta[i].key);
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

    if (opt->novalue) {
        if (eq) {
            return apimctl_usage("%s takes no value", opt->name);
        }

        value = NULL;

    } else if (eq) {
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

    if (ctx->cmd && ctx->cmd->name == NULL && ctx->arg == NULL) {

        /* "usage <id>" and "usage reset <id>": an id is never a name */

        for (c = apimctl_commands; c->group; c++) {
            if (c->name && strcmp(c->group, ctx->cmd->group) == 0
                && strcmp(c->name, word) == 0)
            {
                ctx->words[ctx->nwords++] = word;
                ctx->cmd = c;
                return APIMCTL_OK;
            }
        }
    }

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
    char                      names[128];
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
            if (c->name && strcmp(c->group, ctx->words[0]) == 0) {
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
                             : cmd->arg == APIMCTL_ARG_FILE
                               || cmd->arg == APIMCTL_ARG_STATE ? "a file"
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

        if ((ctx->cleared & opt->flag)
            && cmd->handler != apimctl_key_update)
        {
            return apimctl_usage("%s - (remove) applies only to key update",
                                 opt->name);
        }
    }

    if (cmd->any && !(ctx->given & cmd->any)) {
        names[0] = '\0';

        for (opt = apimctl_options; opt->name; opt++) {
            if (cmd->any & opt->flag) {
                strcat(names, names[0] ? ", " : "");
                strcat(names, opt->name);
            }
        }

        return apimctl_usage("%s %s needs one of %s", cmd->group, cmd->name,
                             names);
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
        && ctx->expires && ctx->not_before >= ctx->expires)
    {
        return apimctl_usage("--not-before is not before --expires");
    }

    /* an update merges its --meta pairs into the record's metadata */

    if (!(cmd->any & APIMCTL_OPT_META)) {
        rc = apimctl_build_metadata(ctx);
        if (rc != APIMCTL_OK) {
            return rc;
        }
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

    printf("  mesh allow <source> <service> [methods=GET,POST] "
           "[paths=/a*,/b]\n"
           "        [rate=10r/s] [burst=<n>] [per=source|edge]\n"
           "      let callers matching <source> call <service>; prints the "
           "edge's id\n"
           "  mesh deny <source> <service> [methods=...] [paths=...]\n"
           "      refuse them; prints the edge's id\n"
           "  mesh limit <source> <service> rate=10r/s [burst=<n>] "
           "[per=source|edge]\n"
           "      limit them, deciding nothing else; prints the edge's id\n"
           "  mesh list [<service>]\n"
           "      one line per edge: id, action, source, service, "
           "parameters\n"
           "  mesh remove <id>\n"
           "      delete an edge; prints its id\n");

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
      "  --grace <time>      how long a rotated key still works: 90, 30s, 5m, "
      "1h\n"
      "  -o, --output <file> where export writes (default: stdout)\n"
      "  --prune             import deletes the consumers and keys the file "
      "lacks\n"
      "  -h, --help          this text\n"
      "  --version           the version\n\n"
      "<when> is a time from now (45s, 15m, 12h, 30d, 2w) or an RFC 3339 "
      "time\n"
      "(2027-01-31T00:00:00Z, 2027-01-31T09:00:00+09:00).  Names are "
      APIMCTL_NAME_RULE ".\n\n"
      "A key is shown once, when \"key add\" makes it: the store keeps only "
      "its HMAC\nunder the secret.  The plans are nginx.conf's "
      "(apim_plan): \"plans\" shows what\nnginx published when it last "
      "started; apimctl does not check plan names.\n"
      "Exit status: 0 done, 1 failed, 2 bad usage.\n");
}


/* a value for a message: printable, short, quoted */

const char *
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
    if (strcmp(name, "--plan") == 0 && strcmp(value, "-") == 0) {
        ctx->cleared |= APIMCTL_OPT_PLAN;
        ctx->plan = NULL;
        return APIMCTL_OK;
    }

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

    if (strcmp(value, "-") == 0) {
        ctx->cleared |= (strcmp(name, "--expires") == 0)
                        ? APIMCTL_OPT_EXPIRES : APIMCTL_OPT_NOT_BEFORE;
        return APIMCTL_OK;
    }

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

    if (strcmp(value, "-") == 0) {
        ctx->cleared |= APIMCTL_OPT_APIS;
        return APIMCTL_OK;
    }

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


/* a number of seconds, or with s, m, h or d: 90, 30s, 5m, 1h, 1d */

static int
apimctl_set_grace(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    int64_t      n, unit;
    const char  *p;

    n = 0;

    for (p = value; *p >= '0' && *p <= '9' && p - value < 9; p++) {
        n = n * 10 + (*p - '0');
    }

    unit = 0;

    if (p > value) {
        switch (*p) {
        case '\0':
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
        }

        if (*p != '\0' && p[1] != '\0') {
            unit = 0;
        }
    }

    if (unit == 0 || n * unit > APIMCTL_GRACE_MAX) {
        return apimctl_usage("invalid %s %s: use seconds (90) or a time like "
                             "30s, 5m, 1h, 1d; at most 365d", name,
                             apimctl_quote(value));
    }

    ctx->grace = n * unit;

    return APIMCTL_OK;
}


static int
apimctl_set_output(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    if (value[0] == '\0') {
        return apimctl_usage("%s needs a file", name);
    }

    ctx->output = value;

    return APIMCTL_OK;
}


static int
apimctl_set_prune(apimctl_ctx_t *ctx, const char *name, const char *value)
{
    ctx->prune = 1;

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

int
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


const char *
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


void
apimctl_field(const char *name, const ngx_apim_str_t *value)
{
    if (value->len == 0) {
        printf("%s: -\n", name);
        return;
    }

    printf("%s: %.*s\n", name, (int) value->len, value->data);
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

int
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

    rc = apimctl_open_store(ctx);
    if (rc != APIMCTL_OK) {
        return rc;
    }

    return apimctl_open_secret(ctx);
}


/* the store, made when missing; the mesh commands need no secret */

int
apimctl_open_store(apimctl_ctx_t *ctx)
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

    return APIMCTL_OK;
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


/*
 * A write on the named consumer or key: its name printed, or why not
 * (APIMCTL_FAILED from a write handler has been reported already)
 */

int
apimctl_written(apimctl_ctx_t *ctx, int rc, const char *what)
{
    if (rc == NGX_APIM_STORE_NOT_FOUND) {
        fprintf(stderr, "apimctl: %s \"%s\" not found\n", what, ctx->arg);
        return APIMCTL_FAILED;
    }

    if (rc == APIMCTL_FAILED) {
        return rc;
    }

    if (rc != NGX_APIM_STORE_OK) {
        return apimctl_store_error(ctx, rc);
    }

    printf("%s\n", ctx->arg);

    return APIMCTL_OK;
}


int
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
