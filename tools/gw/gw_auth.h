/*
 * gw_auth.h - who a request is from: users by password, API clients by
 * bearer token.
 *
 * Passwords are kept as libsodium's crypto_pwhash_str strings (Argon2id,
 * with the salt and the cost in the string) and checked with
 * crypto_pwhash_str_verify, which takes the time and memory the hash was
 * made with: a guessed password costs an attacker as much as a login.  A
 * login for a name that does not exist is checked against a dummy hash
 * made at start, so timing does not tell which names exist.
 *
 * Tokens are 32 random bytes, written "pvtk_" and 64 hex digits; the file
 * keeps only their BLAKE2b-256 (crypto_generichash) in hex.  A token is
 * long enough that a fast hash suffices, and a stolen configuration does
 * not give the tokens.  Comparisons are constant-time (sodium_memcmp).
 */
#ifndef POVTRACK_GW_AUTH_H
#define POVTRACK_GW_AUTH_H

#include <stddef.h>

#include "gw_config.h"

#define GW_TOKEN_PREFIX "pvtk_"
#define GW_TOKEN_LEN (sizeof GW_TOKEN_PREFIX - 1 + 2 * 32) /* chars */

struct gw_auth;

/* Initialise libsodium and make the dummy hash.  0 or POVTRACK_ENOMEM. */
int gw_auth_open(const struct gw_config *cfg, struct gw_auth **out);
void gw_auth_close(struct gw_auth *a);

/* The user name logs in with password, or NULL. */
const struct gw_identity *gw_auth_password(const struct gw_auth *a,
                                           const char *name,
                                           const char *password);

/* The token's identity, or NULL. */
const struct gw_identity *gw_auth_token(const struct gw_auth *a,
                                        const char *token);

/* For povtrack-gw --hash-password: password's Argon2id string into out
 * (GW_PWHASH_MAX bytes).  0, or POVTRACK_ENOMEM (libsodium could not get
 * the memory the hash takes). */
int gw_auth_hash_password(const char *password, char *out);

/* For povtrack-gw --new-token: a fresh token (GW_TOKEN_LEN + 1 bytes) and
 * its hash in hex (65 bytes).  0 or POVTRACK_EIO (no randomness). */
int gw_auth_new_token(char *token, char *hash_hex);

#endif /* POVTRACK_GW_AUTH_H */
