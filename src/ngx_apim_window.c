
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Quota window arithmetic in UTC.  Dates go through a proleptic Gregorian
 * day count (days since 1970-01-01), so months and leap years have their
 * true lengths.
 */


#include "ngx_apim_window.h"


static int64_t ngx_apim_days_from_civil(int64_t y, int64_t m, int64_t d);
static void ngx_apim_civil_from_days(int64_t z, int64_t *y, int64_t *m,
    int64_t *d);
static int64_t ngx_apim_floor_div(int64_t a, int64_t b);
static int64_t ngx_apim_add_months(int64_t t, int64_t months);


/* the start of the window that holds "now" */

int64_t
ngx_apim_window_start(const ngx_apim_period_t *p, int64_t now)
{
    int64_t  days, y, m, d;

    if (p->rolling) {
        return now;
    }

    days = ngx_apim_floor_div(now, 86400);

    switch (p->unit) {

    case NGX_APIM_PERIOD_SECONDS:
        return ngx_apim_floor_div(now, p->seconds) * p->seconds;

    case NGX_APIM_PERIOD_HOUR:
        return ngx_apim_floor_div(now, 3600) * 3600;

    case NGX_APIM_PERIOD_DAY:
        return days * 86400;

    case NGX_APIM_PERIOD_WEEK:
        /* 1970-01-01 was a Thursday, 3 days after a Monday */
        return (days - ((days + 3) - ngx_apim_floor_div(days + 3, 7) * 7))
               * 86400;

    case NGX_APIM_PERIOD_MONTH:
        ngx_apim_civil_from_days(days, &y, &m, &d);
        return ngx_apim_days_from_civil(y, m, 1) * 86400;

    default: /* NGX_APIM_PERIOD_YEAR */
        ngx_apim_civil_from_days(days, &y, &m, &d);
        return ngx_apim_days_from_civil(y, 1, 1) * 86400;
    }
}


/* the end of the window that starts at "start" */

int64_t
ngx_apim_window_end(const ngx_apim_period_t *p, int64_t start)
{
    switch (p->unit) {

    case NGX_APIM_PERIOD_SECONDS:
        return start + p->seconds;

    case NGX_APIM_PERIOD_HOUR:
        return start + 3600;

    case NGX_APIM_PERIOD_DAY:
        return start + 86400;

    case NGX_APIM_PERIOD_WEEK:
        return start + 7 * 86400;

    case NGX_APIM_PERIOD_MONTH:
        return ngx_apim_add_months(start, 1);

    default: /* NGX_APIM_PERIOD_YEAR */
        return ngx_apim_add_months(start, 12);
    }
}


/* a window's usual length, for the "w" of RateLimit-Policy */

int64_t
ngx_apim_period_nominal(const ngx_apim_period_t *p)
{
    switch (p->unit) {

    case NGX_APIM_PERIOD_SECONDS:
        return p->seconds;

    case NGX_APIM_PERIOD_HOUR:
        return 3600;

    case NGX_APIM_PERIOD_DAY:
        return 86400;

    case NGX_APIM_PERIOD_WEEK:
        return 7 * 86400;

    case NGX_APIM_PERIOD_MONTH:
        return 30 * 86400;

    default: /* NGX_APIM_PERIOD_YEAR */
        return 365 * 86400;
    }
}


/*
 * t plus a number of months, the day of the month kept where the target
 * month has it, else the target month's last day.
 */

static int64_t
ngx_apim_add_months(int64_t t, int64_t months)
{
    int64_t  days, secs, y, m, d, last;

    days = ngx_apim_floor_div(t, 86400);
    secs = t - days * 86400;

    ngx_apim_civil_from_days(days, &y, &m, &d);

    m += months;
    y += ngx_apim_floor_div(m - 1, 12);
    m = m - 1 - ngx_apim_floor_div(m - 1, 12) * 12 + 1;

    last = ngx_apim_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1,
                                    1)
           - ngx_apim_days_from_civil(y, m, 1);

    if (d > last) {
        d = last;
    }

    return ngx_apim_days_from_civil(y, m, d) * 86400 + secs;
}


/* days since 1970-01-01 of a proleptic Gregorian date */

static int64_t
ngx_apim_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = ngx_apim_floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


static void
ngx_apim_civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    int64_t  era, doe, yoe, doy, mp;

    z += 719468;
    era = ngx_apim_floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}


static int64_t
ngx_apim_floor_div(int64_t a, int64_t b)
{
    int64_t  q;

    q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }

    return q;
}
