/*
 * fuzz_wisdom.c: libFuzzer target for the wisdom parser (make test-fuzz).
 * The first input byte picks the mode: even, the rest is the whole text as
 * given; odd, the rest becomes the body of a file with a valid header and
 * a valid end line (count and checksum computed here), so that mutated
 * entries get past the checksum and reach the import and merge paths.
 * Properties, checked on every input (abort = a finding):
 *  - a rejected text leaves the live wisdom byte-identical (all-or-nothing);
 *  - an accepted one round-trips: export -> forget -> import -> export is
 *    byte-identical and imports again.
 * The live wisdom starts every input with one entry, so "unchanged" is not
 * trivially empty.
 */
#include "gnk_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static char *export_now(void) {
  char *s = NULL;
  if (gnk_wisdom_export_string(&s) != GNK_OK) abort();
  return s;
}

static void fail(const char *what, const char *text) {
  fprintf(stderr, "fuzz_wisdom: %s\n--- input ---\n%s\n--- last error: %s\n", what, text, gnk_last_error());
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const int wrapped = data[0] & 1;
  ++data, --size;
  gnk_wisdom_forget();
  gnk_wisdom_record("f32_nchw_none_n1c8s9g4_eps1e-05", 0, GNK_SPLIT_UNITS, 1234);
  char *text;
  if (!wrapped) {
    text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
  } else {
    char head[512];
    const int hn = snprintf(head, sizeof head, "gnk-wisdom 1\nversion %s\ncpu %s\nkernels %016" PRIx64 "\n",
                            GNK_VERSION_STRING, gnk_cpu_signature(), gnk_registry_digest());
    text = malloc((size_t)hn + size + 64);
    memcpy(text, head, (size_t)hn);
    memcpy(text + hn, data, size);
    size_t n = (size_t)hn + size;
    text[n] = 0;
    n = strlen(text); /* up to the first NUL, as the parser sees it */
    if (n > 0 && text[n - 1] != '\n') text[n++] = '\n';
    text[n] = 0;
    /* entries counted as the lines that start with "entry " */
    size_t lines = 0;
    for (const char *p = text; (p = strstr(p, "\nentry ")) != NULL; ++p) ++lines;
    snprintf(text + n, 64, "end %zu %016" PRIx64 "\n", lines, fnv(text, n));
  }
  char *before = export_now();
  const gnk_status st = gnk_wisdom_import_string(text);
  char *after = export_now();
  if (st != GNK_OK) {
    if (strcmp(before, after)) fail("a rejected import changed the live wisdom", text);
    if (!*gnk_last_error()) fail("a rejected import gave no message", text);
  } else {
    gnk_wisdom_forget();
    if (gnk_wisdom_import_string(after) != GNK_OK) fail("an export of accepted wisdom does not import", after);
    char *again = export_now();
    if (strcmp(after, again)) fail("export -> import -> export is not byte-identical", text);
    gnk_free(again);
  }
  gnk_free(before);
  gnk_free(after);
  free(text);
  return 0;
}
