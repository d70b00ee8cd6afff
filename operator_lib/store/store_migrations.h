/* SPDX-License-Identifier: MIT */
/* store_migrations.h: the schema migrations compiled in from schema/migrations (internal). */
#ifndef HANT_STORE_MIGRATIONS_H
#define HANT_STORE_MIGRATIONS_H

struct hant_migration {
  int version;
  const char *name;
  const char *sql;
};

extern const struct hant_migration hant__migrations[];
extern const int hant__migration_count;

#endif
