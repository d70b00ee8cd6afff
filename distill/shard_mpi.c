/* SPDX-License-Identifier: MIT */
/* shard_mpi.c: the only file that includes mpi.h; ranks send finished candidates to rank 0, which writes them. */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"
#include "shard.h"

enum { TAG_RESULT = 1, TAG_DONE = 2 };

/* Messages carry raw structs: the ranks of one job run the same binary on
 * hosts of one architecture, as MPI jobs of this kind do. */
typedef struct done_msg {
  int rc;
  int trained;
  double cpu_s, energy_j;
  char error[256];
} done_msg;

static bool active;

int shard_init(int *argc, char ***argv, int *rank, int *size) {
  *rank = 0;
  *size = 1;
  /* Only join a job that mpirun started; a plain run stays one process. */
  if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
    return 0;
  if (MPI_Init(argc, argv) != MPI_SUCCESS)
    return hant__error(HANT_EIO, "MPI_Init failed");
  active = true;
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, size);
  return 0;
}

void shard_finalize(void) {
  if (active)
    MPI_Finalize();
  active = false;
}

void shard_barrier(void) {
  if (active)
    MPI_Barrier(MPI_COMM_WORLD);
}

int shard_send_result(void *user, hant_distill_result *r) {
  (void)user;
  size_t len = sizeof(r->rec) + r->weights_len;
  if (len > (size_t)INT32_MAX)
    return hant__error(HANT_ELIMIT, "candidate %s: %zu bytes is too large for one MPI message", r->rec.key, len);
  char *buf = malloc(len);
  if (!buf)
    return HANT_ENOMEM;
  memcpy(buf, &r->rec, sizeof(r->rec));
  memcpy(buf + sizeof(r->rec), r->weights, r->weights_len);
  int rc = MPI_Send(buf, (int)len, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
  free(buf);
  return rc == MPI_SUCCESS ? 0 : hant__error(HANT_EIO, "MPI_Send of candidate %s failed", r->rec.key);
}

int shard_send_done(int rc, const hant_distill_summary *sum) {
  done_msg m = {.rc = rc, .trained = sum ? sum->trained : 0, .cpu_s = sum ? sum->cpu_s : 0,
                .energy_j = sum ? sum->energy_j : 0};
  snprintf(m.error, sizeof(m.error), "%s", rc ? hant_errmsg() : "");
  return MPI_Send(&m, (int)sizeof(m), MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD) == MPI_SUCCESS
             ? 0
             : hant__error(HANT_EIO, "MPI_Send of the done message failed");
}

/* Receives one message already probed and acts on it. */
static int receive(hant_store *st, const MPI_Status *probe, shard_totals *t) {
  int len;
  MPI_Get_count(probe, MPI_BYTE, &len);
  char *buf = malloc(len > 0 ? (size_t)len : 1);
  if (!buf)
    return HANT_ENOMEM;
  MPI_Status s;
  MPI_Recv(buf, len, MPI_BYTE, probe->MPI_SOURCE, probe->MPI_TAG, MPI_COMM_WORLD, &s);
  int rc = 0;
  if (probe->MPI_TAG == TAG_RESULT) {
    if ((size_t)len < sizeof(hant_cand_rec)) {
      rc = hant__error(HANT_EFORMAT, "rank %d sent a %d-byte result", probe->MPI_SOURCE, len);
    } else {
      hant_cand_rec rec;
      memcpy(&rec, buf, sizeof(rec));
      rc = hant_store_candidate_put(st, &rec, (const uint8_t *)buf + sizeof(rec), (size_t)len - sizeof(rec));
      if (!rc)
        t->trained++;
    }
  } else if (probe->MPI_TAG == TAG_DONE && (size_t)len == sizeof(done_msg)) {
    done_msg m;
    memcpy(&m, buf, sizeof(m));
    t->ranks_done++;
    t->cpu_s += m.cpu_s;
    t->energy_j += m.energy_j;
    if (m.rc && t->failed_rank < 0) {
      t->failed_rank = probe->MPI_SOURCE;
      snprintf(t->failure, sizeof(t->failure), "%s", m.error);
    }
  }
  free(buf);
  return rc;
}

int shard_drain(hant_store *st, shard_totals *t) {
  if (!active)
    return 0;
  for (;;) {
    int flag = 0;
    MPI_Status s;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &s);
    if (!flag)
      return 0;
    int rc = receive(st, &s, t);
    if (rc)
      return rc;
  }
}

int shard_collect(hant_store *st, int size, shard_totals *t) {
  while (active && t->ranks_done < size - 1) {
    MPI_Status s;
    MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &s);
    int rc = receive(st, &s, t);
    if (rc)
      return rc;
  }
  return 0;
}

void shard_abort(int code) {
  if (active)
    MPI_Abort(MPI_COMM_WORLD, code);
  exit(code);
}
