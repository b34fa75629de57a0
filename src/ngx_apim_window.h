
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Quota windows: calendar windows on UTC boundaries with true month and
 * year lengths, rolling windows that start at a key's first counted
 * request.  Plain C; apimctl links it too.
 */


#ifndef _NGX_APIM_WINDOW_H_INCLUDED_
#define _NGX_APIM_WINDOW_H_INCLUDED_


#include <stdint.h>


typedef enum {
    NGX_APIM_PERIOD_SECONDS = 0,  /* a fixed length, such as 30s or 15m */
    NGX_APIM_PERIOD_HOUR,
    NGX_APIM_PERIOD_DAY,
    NGX_APIM_PERIOD_WEEK,         /* ISO weeks: Monday 00:00 UTC */
    NGX_APIM_PERIOD_MONTH,
    NGX_APIM_PERIOD_YEAR
} ngx_apim_period_e;


typedef struct {
    ngx_apim_period_e   unit;
    int64_t             seconds;  /* NGX_APIM_PERIOD_SECONDS only */
    unsigned            rolling:1;
} ngx_apim_period_t;


int64_t ngx_apim_window_start(const ngx_apim_period_t *p, int64_t now);
int64_t ngx_apim_window_end(const ngx_apim_period_t *p, int64_t start);
int64_t ngx_apim_period_nominal(const ngx_apim_period_t *p);


#endif /* _NGX_APIM_WINDOW_H_INCLUDED_ */
