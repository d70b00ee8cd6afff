/* SPDX-License-Identifier: MIT */
/* store_internal.h: what the store's other files (store_jobs.c) need of an open store; SQLite stays inside the store. */
#ifndef HANT_STORE_INTERNAL_H
#define HANT_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* The store's connection. Only store*.c include this header. */
sqlite3 *hant__store_db(hant_store *st);

#endif
