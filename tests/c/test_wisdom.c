/*
 * test_wisdom.c: wisdom export/import. Round trips are byte-identical (string
 * and file); a bad text or file is rejected whole with its own status and
 * leaves the wisdom exactly as it was; imported wisdom drives
 * GNK_WISDOM_ONLY plans.
 * The text format is the one documented in runtime/wisdom.c; the tests build
 * corrupt variants of a real export and re-sign some (FNV-1a 64 of every byte
 * before the end line) so that the check under test is not the checksum.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(wisdom, .fini = leak_check);

/* Measures `count` small problems (threads = 1) so that the wisdom has
 * entries; their spatial sizes are s0, s0+1, ... (distinct keys). */
static void measure_some(int count, int64_t s0) {
  for (int i = 0; i < count; ++i) {
    gnk_desc d = make_desc(i % 2 ? GNK_LAYOUT_NHWC : GNK_LAYOUT_NCHW, (gnk_act)(i % 3), 1, 32, s0 + i, 8);
    gnk_plan_options o = {GNK_MEASURE, 1, NULL, NULL};
    gnk_plan *p = NULL;
    cr_assert_eq(gnk_plan_create_ex(&p, &d, &o), GNK_OK, "%s", gnk_last_error());
    gnk_plan_destroy(p);
  }
}

static char *export_string(void) {
  char *s = NULL;
  cr_assert_eq(gnk_wisdom_export_string(&s), GNK_OK, "%s", gnk_last_error());
  cr_assert_not_null(s);
  return s;
}

/* ---- text surgery ---- */
static char *dup_range(const char *s, size_t len) {
  char *r = malloc(len + 1);
  memcpy(r, s, len);
  r[len] = 0;
  return r;
}

/* Copy of `text` with the first occurrence of `from` replaced by `to`. */
static char *replace(const char *text, const char *from, const char *to) {
  const char *at = strstr(text, from);
  cr_assert_not_null(at, "'%s' not in the wisdom text", from);
  const size_t head = (size_t)(at - text), fl = strlen(from), tl = strlen(to), len = strlen(text) - fl + tl;
  char *r = malloc(len + 1);
  memcpy(r, text, head);
  memcpy(r + head, to, tl);
  strcpy(r + head + tl, at + fl);
  return r;
}

/* The whole line that starts with `prefix` (without its newline). */
static char *line_of(const char *text, const char *prefix) {
  const char *p = text;
  while (p && strncmp(p, prefix, strlen(prefix))) p = (p = strchr(p, '\n')) ? p + 1 : NULL;
  cr_assert_not_null(p, "no line starting with '%s'", prefix);
  return dup_range(p, strcspn(p, "\n"));
}

/* Replaces the end line by a correct one for the text before it (entries counted anew). */
static char *resign(const char *text) {
  const char *end = strstr(text, "\nend ");
  cr_assert_not_null(end);
  const size_t body = (size_t)(end - text) + 1;
  uint64_t h = 1469598103934665603ull;
  size_t entries = 0;
  for (size_t i = 0; i < body; ++i) {
    h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    entries += i + 6 <= body && (i == 0 || text[i - 1] == '\n') && !strncmp(text + i, "entry ", 6);
  }
  char *r = malloc(body + 64);
  memcpy(r, text, body);
  snprintf(r + body, 64, "end %zu %016" PRIx64 "\n", entries, h);
  return r;
}

/* ---- tests ---- */
Test(wisdom, string_round_trip_is_byte_identical) {
  measure_some(4, 40);
  cr_assert_eq(gnk_wisdom_size(), 4);
  char *a = export_string();
  gnk_wisdom_forget();
  cr_assert_eq(gnk_wisdom_size(), 0);
  cr_assert_eq(gnk_wisdom_import_string(a), GNK_OK, "%s", gnk_last_error());
  cr_assert_eq(gnk_wisdom_size(), 4);
  char *b = export_string();
  cr_assert_str_eq(a, b, "export -> forget -> import -> export changed the text");
  /* Importing again is idempotent (same keys replace themselves). */
  cr_assert_eq(gnk_wisdom_import_string(a), GNK_OK);
  cr_assert_eq(gnk_wisdom_size(), 4);
  /* Our re-signing reproduces the library's end line exactly (the surgery below relies on it). */
  char *c = resign(a);
  cr_assert_str_eq(c, a);
  gnk_free(a);
  gnk_free(b);
  free(c);
}

Test(wisdom, empty_wisdom_round_trip) {
  char *a = export_string();
  cr_assert_eq(gnk_wisdom_import_string(a), GNK_OK, "%s", gnk_last_error());
  cr_assert_eq(gnk_wisdom_size(), 0);
  char *b = export_string();
  cr_assert_str_eq(a, b);
  gnk_free(a);
  gnk_free(b);
}

Test(wisdom, import_merges_with_live_wisdom) {
  measure_some(2, 40);
  char *a = export_string();
  gnk_wisdom_forget();
  gnk_desc d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, 1, 16, 77, 4);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_MEASURE), GNK_OK);
  gnk_plan_destroy(p);
  cr_assert_eq(gnk_wisdom_size(), 1);
  cr_assert_eq(gnk_wisdom_import_string(a), GNK_OK, "%s", gnk_last_error());
  cr_assert_eq(gnk_wisdom_size(), 3);
  gnk_free(a);
}

/* Entries of the directory other than . and .. */
static int dir_entries(const char *dir, char *only, size_t size) {
  DIR *dp = opendir(dir);
  cr_assert_not_null(dp);
  int n = 0;
  for (struct dirent *e; (e = readdir(dp));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(only, size, "%s", e->d_name);
    ++n;
  }
  closedir(dp);
  return n;
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  char *text = malloc(1 << 20);
  const size_t n = fread(text, 1, (1 << 20) - 1, f);
  text[n] = 0;
  fclose(f);
  return text;
}

Test(wisdom, file_round_trip) {
  char dir[] = "/tmp/gnk-wisdom-test-XXXXXX", path[64], name[256];
  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/wisdom.txt", dir);
  measure_some(3, 40);
  char *a = export_string();
  for (int round = 0; round < 2; ++round) { /* the second export replaces the file */
    cr_assert_eq(gnk_wisdom_export_file(path), GNK_OK, "%s", gnk_last_error());
    cr_assert_eq(dir_entries(dir, name, sizeof name), 1, "export left extra files in %s (e.g. %s)", dir, name);
    cr_assert_str_eq(name, "wisdom.txt");
  }
  char *f = read_all(path);
  cr_assert_str_eq(f, a, "the file differs from the exported string");
  gnk_wisdom_forget();
  cr_assert_eq(gnk_wisdom_import_file(path), GNK_OK, "%s", gnk_last_error());
  char *b = export_string();
  cr_assert_str_eq(a, b);

  /* A file with a NUL byte is corrupt; a directory that does not exist is an I/O error. */
  char nul_path[80];
  snprintf(nul_path, sizeof nul_path, "%s/nul.txt", dir);
  FILE *out = fopen(nul_path, "wb");
  fwrite(a, 1, 10, out);
  fputc(0, out);
  fputs(a + 10, out);
  fclose(out);
  cr_assert_eq(gnk_wisdom_import_file(nul_path), GNK_ERR_WISDOM_CORRUPT, "%s", gnk_last_error());
  char bad_dir[96];
  snprintf(bad_dir, sizeof bad_dir, "%s/no/such/dir/w.txt", dir);
  cr_assert_eq(gnk_wisdom_export_file(bad_dir), GNK_ERR_WISDOM_IO, "%s", gnk_last_error());
  cr_assert_eq(gnk_wisdom_size(), 3);

  unlink(nul_path);
  unlink(path);
  cr_assert_eq(rmdir(dir), 0, "%s is not empty after cleanup", dir);
  gnk_free(a);
  gnk_free(b);
  free(f);
}

/* The import must fail with `want` (or, when want2 != GNK_OK, either) and change nothing. */
static void expect_rejected(const char *what, const char *text, gnk_status want, gnk_status want2) {
  char *before = export_string();
  const size_t size = gnk_wisdom_size();
  const gnk_status st = gnk_wisdom_import_string(text);
  cr_assert(st == want || (want2 != GNK_OK && st == want2), "%s: got %s, want %s", what, gnk_status_string(st),
            gnk_status_string(want));
  cr_assert_gt(strlen(gnk_last_error()), 0, "%s: no error message", what);
  char *after = export_string();
  cr_assert_str_eq(before, after, "%s: a rejected import changed the wisdom", what);
  cr_assert_eq(gnk_wisdom_size(), size, "%s: a rejected import changed the wisdom size", what);
  gnk_free(before);
  gnk_free(after);
}

Test(wisdom, rejections_leave_state_unchanged) {
  measure_some(3, 40);
  char *good = export_string();
  const size_t len = strlen(good);
  gnk_wisdom_forget(); /* live wisdom: 1 entry not in `good`, so "unchanged" is not "empty" */
  measure_some(1, 90);
  cr_assert_eq(gnk_wisdom_size(), 1);

  /* Truncations: inside lines and at line boundaries, never the whole text. */
  const size_t entry0 = (size_t)(strstr(good, "\nentry ") - good) + 1, end0 = (size_t)(strstr(good, "\nend ") - good) + 1;
  const size_t cuts[] = {0, 1, 5, 13, entry0 - 1, entry0, entry0 + 10, end0, end0 + 4, len - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; ++i) {
    char *t = dup_range(good, cuts[i]);
    char what[48];
    snprintf(what, sizeof what, "truncated at %zu of %zu", cuts[i], len);
    expect_rejected(what, t, GNK_ERR_WISDOM_CORRUPT, GNK_OK);
    free(t);
  }

  /* A flipped byte in an entry: caught by the checksum. */
  char *t = dup_range(good, len);
  t[entry0 + 8] ^= 0x01;
  expect_rejected("flipped key byte", t, GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  free(t);
  t = dup_range(good, len);
  t[end0 - 2] = t[end0 - 2] == '1' ? '2' : '1'; /* last digit of the last entry's time */
  expect_rejected("changed entry time", t, GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  free(t);
  t = dup_range(good, len);
  t[len - 2] = t[len - 2] == '0' ? '1' : '0'; /* checksum digit itself */
  expect_rejected("changed checksum", t, GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  free(t);

  /* Header mismatches, re-signed so that only the header check can refuse them. */
  char *version = line_of(good, "version "), *cpu = line_of(good, "cpu "), *kernels = line_of(good, "kernels ");
  struct {
    const char *what, *from, *to;
    gnk_status want;
  } header[] = {
      {"wrong version", version, "version 9.9.9", GNK_ERR_WISDOM_VERSION},
      {"wrong cpu", cpu, "cpu OtherVendor family=1 model=2 isa=scalar", GNK_ERR_WISDOM_CPU},
      {"wrong kernel digest", kernels, "kernels 0123456789abcdef", GNK_ERR_WISDOM_KERNELS},
      {"wrong magic", "gnk-wisdom 1", "gnk-wisdom 2", GNK_ERR_WISDOM_CORRUPT},
  };
  for (size_t i = 0; i < sizeof header / sizeof header[0]; ++i) {
    char *r = replace(good, header[i].from, header[i].to), *s = resign(r);
    expect_rejected(header[i].what, s, header[i].want, GNK_OK);
    free(r);
    free(s);
  }

  /* Entry-level problems with a valid checksum. */
  char *first = line_of(good, "entry ");
  char key[200], kname[160];
  cr_assert_eq(sscanf(first, "entry %199s %159s", key, kname), 2);
  char *r = replace(good, kname, "gnk_f32_nchw_gn_no_such_kernel__avx512_u4"), *s = resign(r);
  expect_rejected("unknown kernel name", s, GNK_ERR_WISDOM_KERNELS, GNK_ERR_WISDOM_CORRUPT);
  free(r);
  free(s);
  r = replace(good, first, "entry onlykey");
  s = resign(r);
  expect_rejected("entry with missing fields", s, GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  free(r);
  free(s);
  char bad_split[512];
  snprintf(bad_split, sizeof bad_split, "entry %s %s sideways 100", key, kname);
  r = replace(good, first, bad_split);
  s = resign(r);
  expect_rejected("unknown split", s, GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  free(r);
  free(s);
  /* a time too large (or infinite) to be exported on a line that imports again:
   * accepted, it made the next export unreadable (found by tests/fuzz/fuzz_wisdom) */
  const char *times[] = {"1e300", "inf", "-1", "nan", "1e16"};
  for (size_t i = 0; i < sizeof times / sizeof times[0]; ++i) {
    char bad_time[512];
    snprintf(bad_time, sizeof bad_time, "entry %s %s units %s", key, kname, times[i]);
    r = replace(good, first, bad_time);
    s = resign(r);
    expect_rejected(times[i], s, GNK_ERR_WISDOM_CORRUPT, GNK_OK);
    free(r);
    free(s);
  }
  r = replace(good, "\nend ", "\nend 9");
  s = dup_range(r, strlen(r)); /* count wrong, not re-signed: any corrupt status */
  expect_rejected("wrong entry count", s, GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  free(r);
  free(s);
  char *extra = malloc(len + 16);
  snprintf(extra, len + 16, "%sentry x\n", good);
  expect_rejected("text after the end line", extra, GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  free(extra);

  /* Not wisdom at all. */
  expect_rejected("empty string", "", GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  expect_rejected("garbage", "hello world\nthis is not wisdom\n", GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  expect_rejected("binary garbage", "\x01\x02\x03\xff\xfe", GNK_ERR_WISDOM_CORRUPT, GNK_OK);
  expect_rejected("only newlines", "\n\n\n\n\n", GNK_ERR_WISDOM_CORRUPT, GNK_OK);

  /* A missing file. */
  char *before = export_string();
  cr_assert_eq(gnk_wisdom_import_file("/nonexistent-gnk-dir/wisdom.txt"), GNK_ERR_WISDOM_IO, "%s", gnk_last_error());
  char *after = export_string();
  cr_assert_str_eq(before, after);
  cr_assert_eq(gnk_wisdom_size(), 1);

  /* After all that, the good text still imports. */
  cr_assert_eq(gnk_wisdom_import_string(good), GNK_OK, "%s", gnk_last_error());
  cr_assert_eq(gnk_wisdom_size(), 4);
  gnk_free(good);
  gnk_free(before);
  gnk_free(after);
  free(version);
  free(cpu);
  free(kernels);
  free(first);
}

/* Every work split (units, phases, fused) is written and read back by name. */
Test(wisdom, every_split_round_trips) {
  gnk_wisdom_forget();
  measure_some(2, 231);
  char *good = export_string();
  char *first = line_of(good, "entry ");
  char key[200], kname[160], split[16];
  double ns;
  cr_assert_eq(sscanf(first, "entry %199s %159s %15s %lf", key, kname, split, &ns), 4, "%s", first);
  static const char *splits[] = {"units", "phases", "fused", "pipeline"};
  for (int i = 0; i < 4; ++i) {
    char line[512];
    snprintf(line, sizeof line, "entry %s %s %s %.1f", key, kname, splits[i], ns);
    char *changed = replace(good, first, line), *signed_text = resign(changed);
    gnk_wisdom_forget();
    cr_assert_eq(gnk_wisdom_import_string(signed_text), GNK_OK, "split %s: %s", splits[i], gnk_last_error());
    char *again = export_string();
    char want[256];
    snprintf(want, sizeof want, "entry %s %s %s ", key, kname, splits[i]);
    cr_assert(strstr(again, want) != NULL, "split %s did not survive import and export:\n%s", splits[i], again);
    gnk_free(again);
    free(changed);
    free(signed_text);
  }
  free(first);
  gnk_free(good);
  gnk_wisdom_forget();
}

Test(wisdom, imported_wisdom_drives_wisdom_only_plans) {
  gnk_desc d = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_SILU, 2, 64, 123, 16);
  gnk_plan_options measure = {GNK_MEASURE, 1, NULL, NULL}, only = {GNK_WISDOM_ONLY, 1, NULL, NULL};
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create_ex(&p, &d, &measure), GNK_OK, "%s", gnk_last_error());
  cr_assert_str_eq(gnk_plan_source(p), "measured");
  char kernel[128];
  snprintf(kernel, sizeof kernel, "%s", gnk_plan_kernel_name(p));
  gnk_plan_destroy(p);
  cr_assert_eq(gnk_wisdom_size(), 1);

  char *text = export_string();
  gnk_wisdom_forget();
  gnk_plan_cache_clear();
  cr_assert_eq(gnk_plan_create_ex(&p, &d, &only), GNK_ERR_WISDOM_ONLY_MISS, "forgotten wisdom still answers");
  cr_assert_null(p);
  cr_assert_eq(gnk_wisdom_import_string(text), GNK_OK, "%s", gnk_last_error());
  gnk_plan_cache_clear();
  cr_assert_eq(gnk_plan_create_ex(&p, &d, &only), GNK_OK, "%s", gnk_last_error());
  cr_assert_str_eq(gnk_plan_source(p), "wisdom");
  cr_assert_str_eq(gnk_plan_kernel_name(p), kernel, "wisdom gave another kernel than was measured");

  /* The plan from wisdom computes the right thing. */
  const int64_t total = desc_numel(&d);
  tbuf x = tbuf_new(total, 0), y = tbuf_new(total, 0);
  rng r;
  rng_seed(&r, 9);
  fill_normal(&r, x.p, total, -1.0, 3.0);
  char msg[512];
  cr_assert_eq(gnk_execute(p, x.p, y.p, NULL, NULL), GNK_OK);
  cr_assert_eq(ref_check_all(&d, x.p, NULL, NULL, y.p, msg, sizeof msg), 0, "%s", msg);
  gnk_plan_destroy(p);

  /* Another thread count is another key: a miss. So is an unknown problem. */
  gnk_plan_options only4 = {GNK_WISDOM_ONLY, 4, NULL, NULL};
  cr_assert_eq(gnk_plan_create_ex(&p, &d, &only4), GNK_ERR_WISDOM_ONLY_MISS);
  gnk_desc other = d;
  other.spatial = 124;
  cr_assert_eq(gnk_plan_create_ex(&p, &other, &only), GNK_ERR_WISDOM_ONLY_MISS);
  cr_assert(strstr(gnk_last_error(), "wisdom") != NULL, "%s", gnk_last_error());
  cr_assert_null(p);
  gnk_free(text);
  tbuf_free(&x);
  tbuf_free(&y);
}
