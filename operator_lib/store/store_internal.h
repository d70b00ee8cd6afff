/* SPDX-License-Identifier: MIT */
/* store_internal.h: what the store's other files (store_jobs.c) need of an open store; SQLite stays inside the store. */
#ifndef HANT_STORE_INTERNAL_H
#define HANT_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* The store's connection. Only store*.c include this header. */
sqlite3 *hant__store_db(hant_store *st);

/* Reads the current row of a statement into rec, a zeroed record. Returns
 * 0 or a negative HANT_E* code, which stops the listing. */
typedef int (*hant__store_row_fn)(sqlite3_stmt *s, void *rec);

/* Lists the rows of a query: steps s, prepared and bound by the caller, to
 * its end, reading each row with read_row into a new record of rec_size
 * bytes appended to an array that starts at first_cap records and doubles.
 * s is finalized in every case. On success *rows is a malloc'd array of *n
 * records (NULL when there are none) owned by the caller. On failure
 * (HANT_ENOMEM, read_row's code, or HANT_EDB with a message naming `what`
 * and the library) *rows is NULL and *n is 0: free_rows, when not NULL,
 * has released the array and what its records own, else free() has. */
int hant__store_list(hant_store *st, sqlite3_stmt *s, size_t rec_size, int first_cap, hant__store_row_fn read_row,
                     void (*free_rows)(void *rows, int n), const char *what, void **rows, int *n);

#endif
