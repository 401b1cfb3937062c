/* wisdom.c: the planner's measured decisions, saved and restored.
 *
 * Text format (one record per line, entries sorted by key so that
 * save -> load -> save is byte-identical):
 *   gnk-wisdom 1
 *   version <library version>
 *   cpu <cpu signature>
 *   kernels <digest of the kernel list, 16 hex digits>
 *   entry <problem key> <kernel name> <units|phases|fused|pipeline> <ns>
 *   ...
 *   end <entry count> <FNV-1a 64 of every byte before this line, 16 hex digits>
 * Import is all-or-nothing: the whole text is parsed and checked into a new
 * table first, and only then merged into the live one. */
#include "gnk_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_MAX 200
#define GNK_WISDOM_MAX_NS 1e15 /* 11.6 days: no single timed run is longer */

typedef struct wentry {
  char key[KEY_MAX];
  int kernel;
  gnk_split split;
  double ns;
} wentry;

typedef struct table {
  wentry *e;
  size_t n, cap;
} table;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static table live;

static wentry *find(table *t, const char *key) {
  for (size_t i = 0; i < t->n; ++i)
    if (!strcmp(t->e[i].key, key)) return &t->e[i];
  return NULL;
}

static int put(table *t, const wentry *w) {
  wentry *old = find(t, w->key);
  if (old) { *old = *w; return 1; }
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 16;
    wentry *e = realloc(t->e, cap * sizeof *e);
    if (!e) return 0;
    t->e = e;
    t->cap = cap;
  }
  t->e[t->n++] = *w;
  return 1;
}

void gnk_wisdom_fork_prepare(void) { pthread_mutex_lock(&lock); }
void gnk_wisdom_fork_parent(void) { pthread_mutex_unlock(&lock); }
void gnk_wisdom_fork_child(void) { pthread_mutex_unlock(&lock); }

int gnk_wisdom_lookup(const char *key, int *kernel, gnk_split *split, double *ns) {
  pthread_mutex_lock(&lock);
  wentry *w = find(&live, key);
  if (w) { *kernel = w->kernel; *split = w->split; *ns = w->ns; }
  pthread_mutex_unlock(&lock);
  return w != NULL;
}

void gnk_wisdom_record(const char *key, int kernel, gnk_split split, double ns) {
  wentry w = {{0}, kernel, split, ns};
  snprintf(w.key, sizeof w.key, "%s", key);
  pthread_mutex_lock(&lock);
  put(&live, &w); /* out of memory: the decision is simply not remembered */
  pthread_mutex_unlock(&lock);
}

size_t gnk_wisdom_size(void) {
  pthread_mutex_lock(&lock);
  size_t n = live.n;
  pthread_mutex_unlock(&lock);
  return n;
}

void gnk_wisdom_forget(void) {
  pthread_mutex_lock(&lock);
  free(live.e);
  memset(&live, 0, sizeof live);
  pthread_mutex_unlock(&lock);
}

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static int by_key(const void *a, const void *b) { return strcmp(((const wentry *)a)->key, ((const wentry *)b)->key); }

/* ---- export ---- */
typedef struct buf { char *p; size_t n, cap; int oom; } buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (len < 0) { b->oom = 1; return; }
    if (b->p && b->n + (size_t)len < b->cap) { b->n += (size_t)len; return; }
    size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)len;
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return; }
    b->p = p;
    b->cap = cap;
  }
}

gnk_status gnk_wisdom_export_string(char **out) {
  if (!out) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "output pointer is NULL");
  *out = NULL;
  buf b = {0};
  pthread_mutex_lock(&lock);
  table t = live;
  wentry *copy = t.n ? malloc(t.n * sizeof *copy) : NULL;
  if (copy) memcpy(copy, t.e, t.n * sizeof *copy);
  size_t n = copy ? t.n : 0;
  pthread_mutex_unlock(&lock);
  if (t.n && !copy) return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory to export wisdom");
  if (n > 1) qsort(copy, n, sizeof *copy, by_key); /* copy is NULL when n == 0 */
  bprintf(&b, "gnk-wisdom 1\nversion %s\ncpu %s\nkernels %016" PRIx64 "\n", GNK_VERSION_STRING, gnk_cpu_signature(),
          gnk_registry_digest());
  for (size_t i = 0; i < n; ++i)
    bprintf(&b, "entry %s %s %s %.0f\n", copy[i].key, gnk_registry_get(copy[i].kernel)->info.name,
            gnk_split_name(copy[i].split), copy[i].ns);
  free(copy);
  if (!b.oom) {
    uint64_t h = fnv(b.p, b.n);
    bprintf(&b, "end %zu %016" PRIx64 "\n", n, h);
  }
  if (b.oom) { free(b.p); return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory to export wisdom"); }
  *out = b.p;
  return GNK_OK;
}

gnk_status gnk_wisdom_export_file(const char *path) {
  if (!path) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "path is NULL");
  char *text;
  gnk_status st = gnk_wisdom_export_string(&text);
  if (st != GNK_OK) return st;
  /* Temp file in the same directory, fsync, rename over, fsync the directory:
   * a crash leaves the old file or the new one, never a torn one. */
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) { free(text); return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory"); }
  snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    st = gnk_fail(GNK_ERR_WISDOM_IO, "cannot create a temporary file next to %s: %s", path, strerror(errno));
    free(tmp); free(text);
    return st;
  }
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0) { if (errno == EINTR) continue; break; }
    off += (size_t)w;
  }
  int ok = off == len && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (ok && rename(tmp, path) != 0) ok = 0;
  if (!ok) {
    st = gnk_fail(GNK_ERR_WISDOM_IO, "cannot write wisdom to %s: %s", path, strerror(errno));
    unlink(tmp);
  } else {
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
    const char *dname = slash ? (slash == dir ? "/" : (*slash = 0, dir)) : ".";
    int dfd = open(dname, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    free(dir);
  }
  free(tmp);
  free(text);
  return st;
}

/* ---- import ---- */
static gnk_status parse(const char *text, table *out) {
  const char *end_line = NULL, *p = text;
  int line = 0;
  char want_cpu[300];
  snprintf(want_cpu, sizeof want_cpu, "cpu %s", gnk_cpu_signature());
  while (*p) {
    const char *nl = strchr(p, '\n');
    if (!nl) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom line %d is not terminated (truncated file?)", line + 1);
    size_t len = (size_t)(nl - p);
    char l[512];
    if (len >= sizeof l) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom line %d is too long", line + 1);
    memcpy(l, p, len);
    l[len] = 0;
    ++line;
    if (end_line) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom has text after its end line");
    if (line == 1) {
      if (strcmp(l, "gnk-wisdom 1")) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "not a gnk wisdom file (first line '%.40s')", l);
    } else if (line == 2) {
      if (strncmp(l, "version ", 8)) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom line 2 is not a version");
      if (strcmp(l + 8, GNK_VERSION_STRING))
        return gnk_fail(GNK_ERR_WISDOM_VERSION, "wisdom from gnk %.40s, this is gnk %s", l + 8, GNK_VERSION_STRING);
    } else if (line == 3) {
      if (strncmp(l, "cpu ", 4)) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom line 3 is not a cpu");
      if (strcmp(l, want_cpu))
        return gnk_fail(GNK_ERR_WISDOM_CPU, "wisdom made on another CPU ('%.100s'; this one is '%s')", l + 4, gnk_cpu_signature());
    } else if (line == 4) {
      char want[40];
      snprintf(want, sizeof want, "kernels %016" PRIx64, gnk_registry_digest());
      if (strncmp(l, "kernels ", 8)) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom line 4 is not a kernel digest");
      if (strcmp(l, want)) return gnk_fail(GNK_ERR_WISDOM_KERNELS, "wisdom made for another kernel list (%s, this library has %s)", l + 8, want + 8);
    } else if (!strncmp(l, "entry ", 6)) {
      char key[KEY_MAX], name[160], split[16], extra[2];
      double ns;
      /* ns: a measured time, at most GNK_WISDOM_MAX_NS; a larger one (or Inf)
       * would be exported as a number too long for its line (%.0f of 1e308 is
       * 309 digits), and the export would no longer import */
      if (sscanf(l + 6, "%199s %159s %15s %lf %1s", key, name, split, &ns, extra) != 4 ||
          !(ns >= 0 && ns <= GNK_WISDOM_MAX_NS))
        return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom line %d is not a valid entry", line);
      wentry w = {{0}, gnk_registry_find(name), GNK_SPLIT_UNITS, ns};
      if (w.kernel < 0) return gnk_fail(GNK_ERR_WISDOM_KERNELS, "wisdom line %d names unknown kernel %s", line, name);
      if (!strcmp(split, "phases")) w.split = GNK_SPLIT_PHASES;
      else if (!strcmp(split, "fused")) w.split = GNK_SPLIT_FUSED;
      else if (!strcmp(split, "pipeline")) w.split = GNK_SPLIT_PIPELINE;
      else if (strcmp(split, "units")) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom line %d: unknown split %s", line, split);
      snprintf(w.key, sizeof w.key, "%s", key);
      if (!put(out, &w)) return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory to import wisdom");
    } else if (!strncmp(l, "end ", 4)) {
      size_t count;
      uint64_t sum;
      char extra[2];
      if (sscanf(l + 4, "%zu %" SCNx64 " %1s", &count, &sum, extra) != 2)
        return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom end line is malformed");
      if (count != out->n) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom promises %zu entries, has %zu", count, out->n);
      if (sum != fnv(text, (size_t)(p - text))) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom checksum mismatch");
      end_line = p;
    } else {
      return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom line %d not understood", line);
    }
    p = nl + 1;
  }
  if (line < 4) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom is truncated (%d lines)", line);
  if (!end_line) return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom has no end line (truncated file?)");
  return GNK_OK;
}

gnk_status gnk_wisdom_import_string(const char *text) {
  if (!text) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "wisdom text is NULL");
  table t = {0};
  gnk_status st = parse(text, &t);
  if (st == GNK_OK) {
    pthread_mutex_lock(&lock);
    table merged = {0};
    int ok = 1;
    for (size_t i = 0; ok && i < live.n; ++i) ok = put(&merged, &live.e[i]);
    for (size_t i = 0; ok && i < t.n; ++i) ok = put(&merged, &t.e[i]);
    if (ok) { free(live.e); live = merged; }
    else { free(merged.e); st = gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory to import wisdom"); }
    pthread_mutex_unlock(&lock);
    /* Decisions cached before the import may now be worse than the wisdom. */
    if (st == GNK_OK) gnk_plan_cache_clear();
  }
  free(t.e);
  return st;
}

gnk_status gnk_wisdom_import_file(const char *path) {
  if (!path) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "path is NULL");
  FILE *f = fopen(path, "rb");
  if (!f) return gnk_fail(GNK_ERR_WISDOM_IO, "cannot open wisdom %s: %s", path, strerror(errno));
  char *text = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      if (cap > ((size_t)64 << 20)) { free(text); fclose(f); return gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom %s is over 64 MiB", path); }
      char *p = realloc(text, cap);
      if (!p) { free(text); fclose(f); return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory to read wisdom"); }
      text = p;
    }
    size_t r = fread(text + n, 1, 4096, f);
    n += r;
    if (r < 4096) break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) { free(text); return gnk_fail(GNK_ERR_WISDOM_IO, "cannot read wisdom %s", path); }
  text[n] = 0;
  gnk_status st = memchr(text, 0, n) ? gnk_fail(GNK_ERR_WISDOM_CORRUPT, "wisdom %s contains a NUL byte", path)
                                     : gnk_wisdom_import_string(text);
  free(text);
  return st;
}
