
/*
 * Copyright (C) The nginx-apim authors
 */


/*
 * A worker's memory of the client certificates it verified as X.509-SVIDs.
 * A new TLS connection that presents the same certificates (the leaf and
 * the chain, by SHA-256 of each) to a server with the same trust bundles
 * gets the same verdict without the chain being verified again, which is
 * a signature check per link and costs as much as the rest of a thousand
 * keep-alive requests.  Only verified SVIDs are kept, each until the
 * earliest notAfter of its verified chain; loading a configuration starts
 * over.  The memory is static, per worker: nothing is allocated for it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ngx_http_mesh_peer.h"
#include "ngx_http_mesh_identity_cache.h"


#define NGX_HTTP_MESH_SVID_CACHE      64       /* entries, a power of 2 */
#define NGX_HTTP_MESH_SVID_ID_MAX     256      /* longer IDs are not kept */
#define NGX_HTTP_MESH_SVID_CHAIN_MAX  8        /* nor longer chains */


typedef struct {
    u_char                        key[NGX_HTTP_MESH_SVID_KEY_LEN];
    ngx_uint_t                    generation;  /* 0: empty */
    ngx_array_t                  *bundles;     /* the server's */
    time_t                        valid_until;
    u_short                       id_len;
    u_short                       td_start;
    u_short                       td_len;
    u_short                       path_start;
    u_short                       path_len;
    u_char                        id[NGX_HTTP_MESH_SVID_ID_MAX];
} ngx_http_mesh_svid_cache_t;


static ngx_http_mesh_svid_cache_t *ngx_http_mesh_svid_cache_slot(
    u_char *key);


/* a configuration's bundles may sit where the last one's were */
static ngx_uint_t  ngx_http_mesh_svid_generation;

static ngx_http_mesh_svid_cache_t
    ngx_http_mesh_svid_cache[NGX_HTTP_MESH_SVID_CACHE];


/* at each configuration load, in the process that loads it */

void
ngx_http_mesh_svid_cache_reset(void)
{
    ngx_http_mesh_svid_generation++;
}


/*
 * The certificates' key: the leaf's SHA-256, or the SHA-256 of the leaf's
 * and every chain certificate's.  NGX_DECLINED: not to be cached.
 */

ngx_int_t
ngx_http_mesh_svid_cache_key(X509 *leaf, STACK_OF(X509) *chain, u_char *key)
{
    u_char        md[(1 + NGX_HTTP_MESH_SVID_CHAIN_MAX)
                     * NGX_HTTP_MESH_SVID_KEY_LEN];
    int           i, n;
    unsigned int  len;

    n = chain ? sk_X509_num(chain) : 0;

    if (n > NGX_HTTP_MESH_SVID_CHAIN_MAX) {
        return NGX_DECLINED;
    }

    for (i = 0; i <= n; i++) {
        if (X509_digest(i ? sk_X509_value(chain, i - 1) : leaf,
                        EVP_sha256(), md + i * NGX_HTTP_MESH_SVID_KEY_LEN,
                        &len)
            != 1
            || len != NGX_HTTP_MESH_SVID_KEY_LEN)
        {
            return NGX_DECLINED;
        }
    }

    if (n == 0) {
        ngx_memcpy(key, md, NGX_HTTP_MESH_SVID_KEY_LEN);
        return NGX_OK;
    }

    if (EVP_Digest(md, (n + 1) * NGX_HTTP_MESH_SVID_KEY_LEN, key, &len,
                   EVP_sha256(), NULL)
        != 1)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * NGX_OK: the peer is filled from an earlier verification, its strings in
 * the pool; NGX_DECLINED: not known; NGX_ERROR: no memory
 */

ngx_int_t
ngx_http_mesh_svid_cache_get(ngx_pool_t *pool, u_char *key,
    ngx_array_t *bundles, ngx_http_mesh_peer_t *peer)
{
    u_char                      *p;
    ngx_http_mesh_svid_cache_t  *e;

    e = ngx_http_mesh_svid_cache_slot(key);

    if (e->generation != ngx_http_mesh_svid_generation
        || e->generation == 0
        || e->bundles != bundles
        || ngx_memcmp(e->key, key, NGX_HTTP_MESH_SVID_KEY_LEN) != 0)
    {
        return NGX_DECLINED;
    }

    if (ngx_time() >= e->valid_until) {
        e->generation = 0;
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(pool, e->id_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, e->id, e->id_len);

    ngx_memzero(peer, sizeof(ngx_http_mesh_peer_t));

    peer->id.data = p;
    peer->id.len = e->id_len;
    peer->trust_domain.data = p + e->td_start;
    peer->trust_domain.len = e->td_len;
    peer->path.data = p + e->path_start;
    peer->path.len = e->path_len;
    peer->valid_until = e->valid_until;
    peer->verified = 1;

    return NGX_OK;
}


/* a verified SVID, remembered in place of the slot's last */

void
ngx_http_mesh_svid_cache_put(u_char *key, ngx_array_t *bundles,
    ngx_http_mesh_peer_t *peer)
{
    ngx_http_mesh_svid_cache_t  *e;

    if (!peer->verified
        || peer->valid_until == 0
        || peer->id.len > NGX_HTTP_MESH_SVID_ID_MAX
        || ngx_http_mesh_svid_generation == 0)
    {
        return;
    }

    e = ngx_http_mesh_svid_cache_slot(key);

    ngx_memcpy(e->key, key, NGX_HTTP_MESH_SVID_KEY_LEN);
    e->generation = ngx_http_mesh_svid_generation;
    e->bundles = bundles;
    e->valid_until = peer->valid_until;
    e->id_len = (u_short) peer->id.len;
    e->td_start = (u_short) (peer->trust_domain.data - peer->id.data);
    e->td_len = (u_short) peer->trust_domain.len;
    e->path_start = (u_short) (peer->path.data - peer->id.data);
    e->path_len = (u_short) peer->path.len;
    ngx_memcpy(e->id, peer->id.data, peer->id.len);
}


static ngx_http_mesh_svid_cache_t *
ngx_http_mesh_svid_cache_slot(u_char *key)
{
    uint32_t  n;

    ngx_memcpy(&n, key, sizeof(uint32_t));

    return &ngx_http_mesh_svid_cache[n & (NGX_HTTP_MESH_SVID_CACHE - 1)];
}
