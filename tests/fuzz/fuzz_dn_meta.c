/*
 * fuzz_dn_meta.c - libFuzzer target for the DataNode's checksum (.meta)
 * file parsers: the header decoder and the verified-prefix computation
 * used by the start-up scan of replicas being written.
 *
 * Input layout: byte 0 picks where the input splits into a "meta file"
 * and a "data file" (split = in[0] * len / 256), so the fuzzer explores
 * headers, checksum runs of any length and data of any length together.
 */
#include <stddef.h>
#include <stdint.h>

#include "meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len) {
  if (len == 0) return 0;
  size_t split = 1 + (size_t)in[0] * (len - 1) / 256;
  const uint8_t *meta = in + 1;
  size_t meta_len = split - 1;
  const uint8_t *data = in + split;
  size_t data_len = len - split;
  if (dn_meta_hdr_decode(meta, meta_len, "fuzz") == 0) {
    uint64_t good = dn_meta_verified_prefix(data, data_len, meta + DN_META_HDR_LEN,
                                            meta_len - DN_META_HDR_LEN);
    if (good > data_len) __builtin_trap();
    (void)dn_meta_len(good);
  } else {
    /* Bytes that are not a header are still safe to verify against. */
    uint64_t good = dn_meta_verified_prefix(data, data_len, meta, meta_len);
    if (good > data_len) __builtin_trap();
  }
  return 0;
}
