/* SPDX-License-Identifier: MIT */
/* fuzz_fleet.c: fuzz target for the fleet manifest parser of hant-client regen, with a standalone driver. */
#include <stdint.h>
#include <string.h>

#include "fleet.h"
#include "hant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hant_fleet *f = NULL;
  hant_errmsg_clear();
  int rc = hant_fleet_parse((const char *)data, size, "fuzz.json", &f);
  if (rc) {
    /* Refused: nothing handed out, and a message unless memory ran out. */
    if (f || (rc != HANT_ENOMEM && !hant_errmsg()[0]))
      abort();
    return 0;
  }
  if (!f)
    abort();
  for (int i = 0; i < f->n; i++) {
    const hant_fleet_entry *e = &f->entries[i];
    if (e->error[0])
      continue;
    /* A valid entry has its canonical form and a name safe as a file name. */
    if (!e->canonical || !e->name[0] || e->n_budgets < 0 || e->n_budgets > HANT_FLEET_MAX_BUDGETS)
      abort();
    for (const char *p = e->name; *p; p++)
      if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
        abort();
    if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
      abort();
  }
  hant_fleet_destroy(f);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_fleet"
#include "fuzz_driver.h"

static const char *const base_seeds[] = {
    "{\"fleet\": \"f\", \"defaults\": {\"finetune_epochs\": 1}, \"devices\": [{\"device\": \"jetson-nano\", "
    "\"entries\": [{\"budgets\": [\"2W\"], \"fps\": 30}, {\"budgets\": [\"15ms\", \"4MB\"]}]}, {\"device\": "
    "\"rpi4\", \"entries\": [{\"budgets\": [\"20ms\"], \"finetune_epochs\": 3, \"name\": \"x\"}]}]}",
    "{\"devices\": [{\"device\": \"host\", \"entries\": [{\"budgets\": [\"2w\", \"300MMAC\"], \"power_mode\": "
    "\"5W\", \"grid_g_per_kwh\": 100, \"eval_samples\": 10, \"finetune_samples\": 5}]}]}",
    "{\"devices\": []}",
    "{\"defaults\": {\"finetune_epochs\": \"auto\"}, \"devices\": [{\"device\": \"rpi4\", \"entries\": "
    "[{\"budgets\": [\"50%energy\"]}, {\"budgets\": [\"2W\"], \"finetune_epochs\": \"aut\"}]}]}",
};
static const char *const dict[] = {"\"budgets\"", "\"device\"", "\"entries\"", "\"fps\"", "\"name\"", "\"defaults\"",
                                   "\"power_mode\"", "\"finetune_epochs\"", "\"auto\"", "\"2W\"", "\"15ms\"", "\"4MB\"",
                                   "1e308", "-1", "null", "true", "[]", "{}", "\"../x\"", "\"\\u0000\""};

static const fuzz_target target = {.seeds = base_seeds,
                                    .n_seeds = sizeof(base_seeds) / sizeof(base_seeds[0]),
                                    .dict = dict,
                                    .n_dict = sizeof(dict) / sizeof(dict[0])};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
