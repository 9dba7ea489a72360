/*
 * meta.c - the replica checksum (.meta) file: header codec and prefix
 * verification.
 *
 * Verification is written as a pure function over buffers
 * (dn_meta_verified_prefix) so that the fuzz target and the start-up scan
 * of replicas being written share it; dn_meta_verify_fds streams a file
 * through it in 1 MiB batches so that a 128 MiB replica never sits in
 * memory whole.
 */
#include "meta.h"

#include <stdlib.h>
#include <unistd.h>

#include "crc32c.h"
#include "errors.h"

static uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void dn_meta_hdr_encode(uint8_t out[DN_META_HDR_LEN]) {
  out[0] = 0;
  out[1] = DN_META_VERSION;
  out[2] = DN_META_TYPE_CRC32C;
  out[3] = (DN_META_BPC >> 24) & 0xff;
  out[4] = (DN_META_BPC >> 16) & 0xff;
  out[5] = (DN_META_BPC >> 8) & 0xff;
  out[6] = DN_META_BPC & 0xff;
}

int dn_meta_hdr_decode(const uint8_t *in, size_t len, const char *what) {
  if (in == NULL || len < DN_META_HDR_LEN)
    return dfs_err_set(DFS_ECORRUPT, "%s: checksum header truncated (%zu of %d bytes)",
                       what, len, DN_META_HDR_LEN);
  unsigned version = (unsigned)in[0] << 8 | in[1];
  if (version != DN_META_VERSION)
    return dfs_err_set(DFS_ECORRUPT, "%s: offset 0: checksum file version %u, expected %d",
                       what, version, DN_META_VERSION);
  if (in[2] != DN_META_TYPE_CRC32C)
    return dfs_err_set(DFS_ECORRUPT, "%s: offset 2: checksum type %u, expected %d (CRC32C)",
                       what, in[2], DN_META_TYPE_CRC32C);
  uint32_t bpc = get_be32(in + 3);
  if (bpc != DN_META_BPC)
    return dfs_err_set(DFS_ECORRUPT, "%s: offset 3: bytes per checksum %u, expected %d",
                       what, bpc, DN_META_BPC);
  return 0;
}

uint64_t dn_meta_verified_prefix(const uint8_t *data, size_t data_len,
                                 const uint8_t *sums, size_t sums_len) {
  size_t nsums = sums_len / 4;
  size_t good = 0;
  for (size_t i = 0; good < data_len && i < nsums; i++) {
    size_t n = data_len - good < DN_META_BPC ? data_len - good : DN_META_BPC;
    if (crc32c(0, data + good, n) != get_be32(sums + 4 * i)) break;
    good += n;
  }
  return good;
}

/* pread exactly len bytes, or fewer at end of file; returns bytes or -errno. */
static ssize_t pread_most(int fd, void *buf, size_t len, off_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t r = pread(fd, (uint8_t *)buf + got, len - got, off + (off_t)got);
    if (r < 0) return dfs_err_from_errno(errno);
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

int dn_meta_verify_fds(int data_fd, int meta_fd, uint64_t data_len,
                       uint64_t *good, const char *what) {
  enum { BATCH = 1 << 20 };
  uint8_t hdr[DN_META_HDR_LEN];
  *good = 0;
  ssize_t r = pread_most(meta_fd, hdr, sizeof hdr, 0);
  if (r < 0) return dfs_err_set((int)r, "%s: read checksum header failed", what);
  int rc = dn_meta_hdr_decode(hdr, (size_t)r, what);
  if (rc < 0) return rc;
  uint8_t *data = malloc(BATCH);
  uint8_t *sums = malloc(BATCH / DN_META_BPC * 4);
  if (data == NULL || sums == NULL) {
    rc = DFS_ENOMEM;
    goto out;
  }
  uint64_t pos = 0;
  while (pos < data_len) {
    size_t want = data_len - pos < BATCH ? (size_t)(data_len - pos) : BATCH;
    ssize_t dn = pread_most(data_fd, data, want, (off_t)pos);
    if (dn < 0) {
      rc = dfs_err_set((int)dn, "%s: read data at %llu failed", what,
                       (unsigned long long)pos);
      goto out;
    }
    size_t swant = 4 * (((size_t)dn + DN_META_BPC - 1) / DN_META_BPC);
    ssize_t sn = pread_most(meta_fd, sums, swant, (off_t)dn_meta_sum_off(pos));
    if (sn < 0) {
      rc = dfs_err_set((int)sn, "%s: read checksums at %llu failed", what,
                       (unsigned long long)dn_meta_sum_off(pos));
      goto out;
    }
    uint64_t ok = dn_meta_verified_prefix(data, (size_t)dn, sums, (size_t)sn);
    pos += ok;
    if (ok < (uint64_t)want) break;
  }
  *good = pos;
  rc = 0;
out:
  free(data);
  free(sums);
  return rc;
}
