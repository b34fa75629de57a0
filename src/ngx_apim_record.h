
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * The records the store holds, in a compact binary form read on the hot
 * path without parsing JSON.  Depends on libc only; apimctl links it too.
 *
 *   keys       HMAC(secret, key) (32 bytes)  -> key record
 *   key_ids    key id                        -> HMAC (32 bytes)
 *   consumers  consumer name                 -> consumer record
 *   counters   "q:" + key id                 -> usage record
 *   meta       "schema", "secret_fp"         -> text
 *
 * A record is: one type byte, one version byte, then fixed 64-bit
 * little-endian integers, then strings as a 32-bit little-endian length
 * followed by the bytes.  Decoding points into the input, copying nothing,
 * and checks every length against the input.
 */


#ifndef _NGX_APIM_RECORD_H_INCLUDED_
#define _NGX_APIM_RECORD_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_APIM_KEY_DISABLED       0x01

#define NGX_APIM_RECORD_KEY         'K'
#define NGX_APIM_RECORD_CONSUMER    'C'
#define NGX_APIM_RECORD_USAGE       'U'
#define NGX_APIM_RECORD_VERSION     1
#define NGX_APIM_USAGE_VERSION      2     /* 1: without the generation */

#define NGX_APIM_USAGE_PREFIX       "q:"
#define NGX_APIM_USAGE_LEN          (2 + 5 * 8)       /* 42 bytes */
#define NGX_APIM_USAGE_V1_LEN       (2 + 4 * 8)       /* 34 bytes */


typedef struct {
    size_t              len;
    const char         *data;
} ngx_apim_str_t;


typedef struct {
    ngx_apim_str_t      id;
    ngx_apim_str_t      consumer;
    ngx_apim_str_t      plan;         /* empty: the consumer's plan */
    ngx_apim_str_t      apis;         /* "a,b"; empty: the plan's */
    ngx_apim_str_t      metadata;     /* a JSON object's text, or empty */
    int64_t             created;      /* seconds since the epoch */
    int64_t             not_before;   /* 0: none */
    int64_t             expires_at;   /* 0: never */
    uint32_t            flags;        /* NGX_APIM_KEY_DISABLED */
    uint32_t            usage_gen;    /* bumped when usage is reset */
} ngx_apim_key_rec_t;


typedef struct {
    ngx_apim_str_t      name;
    ngx_apim_str_t      id;           /* random, sent as X-Consumer-ID */
    ngx_apim_str_t      plan;
    ngx_apim_str_t      metadata;     /* a JSON object's text, or empty */
    int64_t             created;
    uint32_t            flags;
} ngx_apim_consumer_rec_t;


/* a key's counted usage, written by nginx from shared memory */

typedef struct {
    int64_t             window_start; /* seconds; 0: no window yet */
    int64_t             window_end;   /* seconds */
    int64_t             count;        /* counted in this window */
    int64_t             tat;          /* rate limiter: microseconds */
    uint32_t            gen;          /* the key's usage_gen it counts */
} ngx_apim_usage_rec_t;


/* the primitives of every record, the mesh's edges too */

#define NGX_APIM_RECORD_HEAD        2         /* type, version */
#define NGX_APIM_RECORD_INT         8
#define NGX_APIM_RECORD_STRLEN      4

typedef struct {
    const unsigned char  *pos;
    const unsigned char  *last;
} ngx_apim_reader_t;

unsigned char *ngx_apim_record_put_head(unsigned char *p, int type,
    int version);
unsigned char *ngx_apim_record_put_int(unsigned char *p, uint64_t v);
unsigned char *ngx_apim_record_put_str(unsigned char *p,
    const ngx_apim_str_t *s);
int ngx_apim_record_get_head(ngx_apim_reader_t *rd, const void *data,
    size_t len, int type, int version);
int ngx_apim_record_get_int(ngx_apim_reader_t *rd, uint64_t *v);
int ngx_apim_record_get_str(ngx_apim_reader_t *rd, ngx_apim_str_t *s);


size_t ngx_apim_key_rec_size(const ngx_apim_key_rec_t *rec);
void ngx_apim_key_rec_encode(const ngx_apim_key_rec_t *rec,
    unsigned char *buf);
int ngx_apim_key_rec_decode(ngx_apim_key_rec_t *rec, const void *data,
    size_t len);

size_t ngx_apim_consumer_rec_size(const ngx_apim_consumer_rec_t *rec);
void ngx_apim_consumer_rec_encode(const ngx_apim_consumer_rec_t *rec,
    unsigned char *buf);
int ngx_apim_consumer_rec_decode(ngx_apim_consumer_rec_t *rec,
    const void *data, size_t len);

void ngx_apim_usage_rec_encode(const ngx_apim_usage_rec_t *rec,
    unsigned char buf[NGX_APIM_USAGE_LEN]);
int ngx_apim_usage_rec_decode(ngx_apim_usage_rec_t *rec, const void *data,
    size_t len);


#endif /* _NGX_APIM_RECORD_H_INCLUDED_ */
