/*
 * SQLite's optional modules the store never uses, left out of the
 * server's link.
 *
 * Debian's libsqlite3.a is built with full-text search (FTS3/4, FTS5),
 * R-trees, the dbstat and sqlite_stmt virtual tables. sqlite3_open()
 * registers each of them on every new connection, so a static link
 * pulls in their archive members whole (~240 kB of code) and every
 * open runs their registration: each HTTP worker's and the runner's
 * connection, and a 64 kB window of resident text around each
 * registration function touched (fault-around).
 *
 * The server is linked with -Wl,--wrap=NAME for each of them (Makefile,
 * SQLITE_OMIT): main.o's calls come here instead, and nothing else
 * refers to the real functions, so their members are not linked at
 * all. The store creates no virtual table and runs no SQL but its own,
 * so nothing can ask for them. Elsewhere (unit tests, the sanitizer
 * build's shared glibc link) these functions are simply not called.
 */
#include <sqlite3.h>

/* A registration that registers nothing, in place of NAME's. */
#define NO_MODULE(name)                          \
	int __wrap_##name(sqlite3 *db);          \
	int __wrap_##name(sqlite3 *db)           \
	{                                        \
		(void)db;                        \
		return SQLITE_OK;                \
	}

NO_MODULE(sqlite3Fts3Init)
NO_MODULE(sqlite3Fts5Init)
NO_MODULE(sqlite3RtreeInit)
NO_MODULE(sqlite3DbstatRegister)
NO_MODULE(sqlite3StmtVtabInit)
