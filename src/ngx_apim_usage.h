
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * Resetting or restoring a key's counted usage from outside the limiter
 * (the admin API, apimctl, an import).  Plain C; apimctl links it too.
 */


#ifndef _NGX_APIM_USAGE_H_INCLUDED_
#define _NGX_APIM_USAGE_H_INCLUDED_


#include "ngx_apim_store.h"
#include "ngx_apim_record.h"


int ngx_apim_usage_reset(ngx_apim_store_t *st, MDB_txn *txn,
    const char *key_id, size_t len);
int ngx_apim_usage_restore(ngx_apim_store_t *st, MDB_txn *txn,
    const char *key_id, size_t len, const ngx_apim_usage_rec_t *usage);


#endif /* _NGX_APIM_USAGE_H_INCLUDED_ */
