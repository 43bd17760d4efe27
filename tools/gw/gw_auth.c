/*
 * gw_auth.c - see gw_auth.h.
 */
#include "gw_auth.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct gw_auth {
    const struct gw_config *cfg;
    char dummy[crypto_pwhash_STRBYTES];
};

int gw_auth_hash_password(const char *password, char *out)
{
    _Static_assert(crypto_pwhash_STRBYTES <= GW_PWHASH_MAX, "GW_PWHASH_MAX");
    if (sodium_init() < 0 ||
        crypto_pwhash_str(out, password, strlen(password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return POVTRACK_ENOMEM;
    return 0;
}

int gw_auth_open(const struct gw_config *cfg, struct gw_auth **out)
{
    struct gw_auth *a = calloc(1, sizeof *a);
    char pw[33];

    *out = NULL;
    if (a == NULL)
        return POVTRACK_ENOMEM;
    a->cfg = cfg;
    if (sodium_init() < 0) {
        free(a);
        return POVTRACK_ENOMEM;
    }
    randombytes_buf(pw, sizeof pw - 1);
    for (size_t i = 0; i < sizeof pw - 1; i++)
        pw[i] = (char)('a' + (unsigned char)pw[i] % 26);
    pw[sizeof pw - 1] = '\0';
    if (gw_auth_hash_password(pw, a->dummy) != 0) {
        free(a);
        return POVTRACK_ENOMEM;
    }
    *out = a;
    return 0;
}

void gw_auth_close(struct gw_auth *a)
{
    free(a);
}

const struct gw_identity *gw_auth_password(const struct gw_auth *a,
                                           const char *name,
                                           const char *password)
{
    const struct gw_identity *who = NULL;

    for (size_t i = 0; i < a->cfg->nids; i++)
        if (!a->cfg->ids[i].is_token && strcmp(a->cfg->ids[i].name, name) == 0)
            who = &a->cfg->ids[i];
    /* The same work whether the name exists or not. */
    int rc =
        crypto_pwhash_str_verify(who != NULL ? who->password_hash : a->dummy,
                                 password, strlen(password));
    return rc == 0 ? who : NULL;
}

const struct gw_identity *gw_auth_token(const struct gw_auth *a,
                                        const char *token)
{
    unsigned char h[GW_TOKEN_HASH_BYTES];
    const struct gw_identity *who = NULL;

    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token),
                       NULL, 0);
    for (size_t i = 0; i < a->cfg->nids; i++) {
        const struct gw_identity *id = &a->cfg->ids[i];
        if (id->is_token && sodium_memcmp(id->token_hash, h, sizeof h) == 0)
            who = id;
    }
    return who;
}

int gw_auth_new_token(char *token, char *hash_hex)
{
    unsigned char raw[32], h[GW_TOKEN_HASH_BYTES];

    if (sodium_init() < 0)
        return POVTRACK_EIO;
    randombytes_buf(raw, sizeof raw);
    memcpy(token, GW_TOKEN_PREFIX, sizeof GW_TOKEN_PREFIX - 1);
    sodium_bin2hex(token + sizeof GW_TOKEN_PREFIX - 1, 2 * sizeof raw + 1, raw,
                   sizeof raw);
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token),
                       NULL, 0);
    sodium_bin2hex(hash_hex, 2 * sizeof h + 1, h, sizeof h);
    sodium_memzero(raw, sizeof raw);
    return 0;
}
