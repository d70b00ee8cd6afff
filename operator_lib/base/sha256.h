/* SPDX-License-Identifier: MIT */
/* sha256.h: SHA-256 (FIPS 180-4) for hashing teachers, profiles and other inputs. */
#ifndef HANT_SHA256_H
#define HANT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct hant_sha256 {
  uint32_t h[8];
  uint64_t len;
  uint8_t buf[64];
  size_t fill;
} hant_sha256;

void hant_sha256_init(hant_sha256 *s);
void hant_sha256_update(hant_sha256 *s, const void *data, size_t n);
/* Writes 64 lowercase hex digits and a NUL. */
void hant_sha256_hex(hant_sha256 *s, char out[65]);
/* Hashes a whole file; HANT_ENOENT/HANT_EIO with a message on failure. */
int hant_sha256_file(const char *path, char out[65]);

/* Hashes a file and checks it against `want`; HANT_EINVAL naming the file
 * when it differs. out receives the hash either way. */
int hant_sha256_file_checked(const char *path, const char *want, char out[65]);

#endif
