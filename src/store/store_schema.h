#ifndef CIDRE_STORE_SCHEMA_H
#define CIDRE_STORE_SCHEMA_H

#include <stddef.h>

/*
 * The SQLite schema as migrations (src/store/migrations.c), private to
 * src/store/. store_migrations[i] takes a database from schema version i
 * (PRAGMA user_version) to i + 1. A migration once released is never
 * edited: changes are new entries at the end.
 */
extern const char *const store_migrations[];
extern const size_t store_migrations_nr;

/* The handle's connection, for the store's other files (store_notify.c). */
struct store;
struct sqlite3;
struct sqlite3 *store_sqlite_db(struct store *st);

/*
 * A statement of the store's other files, prepared on first use and
 * kept with the handle like the store's own (let go of by store_shrink
 * and store_close): for the few run at the rate of jobs. slot <
 * STORE_KEPT_NR, one per SQL text; NULL on a prepare error (its
 * message on the connection). The caller resets it after use.
 */
#define STORE_KEPT_NR 4
enum { STORE_KEPT_NOTIFY_HAS, STORE_KEPT_NOTIFY_ADD };
struct sqlite3_stmt;
struct sqlite3_stmt *store_sqlite_kept(struct store *st, int slot, const char *sql);

#endif
