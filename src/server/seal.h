#ifndef CIDRE_SERVER_SEAL_H
#define CIDRE_SERVER_SEAL_H
/*
 * Secrets at rest: what the server must give back in clear (secret
 * variables for jobs, forge API tokens and outgoing webhook secrets for
 * notifications, inbound webhook secrets to check signatures) is stored
 * sealed with a key of the data directory, `secret.key` (32 random
 * bytes, hex, mode 0600, made on first start): a copy of the database
 * alone — a backup, a dump, later a database on another machine — holds
 * no secret in clear.
 *
 * A sealed value is "sealed:v1:" and the base64 of a 24-byte random
 * nonce followed by XSalsa20-Poly1305 (libsodium's secretbox) of the
 * value. A value without that prefix was stored before sealing existed:
 * seal_open() gives it back as it is, and seal_migrate() seals every
 * such value at the server's start.
 */
#include <stddef.h>

#include "util/strbuf.h"

struct store;

#define SEAL_PREFIX "sealed:v1:"
#define SEAL_KEY_FILE "secret.key"

/*
 * Load DATA/secret.key, or make it when there is none (first start).
 * Refused: a key file of the wrong size or form, one that others than
 * its owner may read, and a missing one when st (if given) holds sealed
 * values — they would never open again with a new key.
 */
int seal_init(const char *data_dir, struct store *st, struct strbuf *err);
/* The sealed form of value (malloc'ed); value NULL gives NULL. */
char *seal_value(const char *value);
/*
 * The clear value of stored (malloc'ed in *ret): unsealed, or stored
 * itself when not sealed. -1 with the reason when it cannot be opened
 * (another key, a damaged value). stored NULL gives NULL.
 */
int seal_open(const char *stored, char **ret, struct strbuf *err);
/* As seal_open, replacing *value (freed) by its clear form. */
int seal_open_in_place(char **value, struct strbuf *err);
/* 1 when stored is in sealed form. */
int seal_is_sealed(const char *stored);
/*
 * Seal, in place, every secret stored in clear (a database from before
 * sealing). Returns how many were sealed, -1 on error.
 */
int seal_migrate(struct store *st, struct strbuf *err);
/* For tests and the end of the process: forget the key. */
void seal_release(void);

#endif
