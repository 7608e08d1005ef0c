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

#endif
