/* registry.c: the table of every generated kernel, built from the one kernel
 * list (generated/gnk_kernels.inc) that also feeds tests and benchmarks. */
#include "gnk_internal.h"

#include <string.h>

#define GNK_KERNEL(name, isa, dtype, layout, act, groups, channels, unroll) extern const gnk_kernel_fns name;
#include "gnk_kernels.inc"
#undef GNK_KERNEL

static const gnk_kernel table[] = {
#define GNK_KERNEL(name, isa, dtype, layout, act, groups, channels, unroll) \
  {{#name, isa, dtype, layout, act, groups, channels, unroll}, &name},
#include "gnk_kernels.inc"
#undef GNK_KERNEL
};

#define TABLE_SIZE ((int)(sizeof table / sizeof table[0]))

int gnk_registry_count(void) { return TABLE_SIZE; }
const gnk_kernel *gnk_registry_get(int i) { return i >= 0 && i < TABLE_SIZE ? &table[i] : NULL; }

int gnk_registry_find(const char *name) {
  for (int i = 0; i < TABLE_SIZE; ++i)
    if (!strcmp(table[i].info.name, name)) return i;
  return -1;
}

int gnk_kernel_matches(const gnk_kernel *k, const gnk_desc *d) {
  const gnk_kernel_info *i = &k->info;
  if (i->dtype != d->dtype || i->layout != d->layout || i->act != d->act) return 0;
  if (i->groups == 0) return 1; /* generic */
  return i->groups == d->groups && i->channels == d->c;
}

int64_t gnk_block_of(const gnk_kernel *k, const gnk_desc *d) {
  if (gnk_kernel_matches(k, d)) return 0;
  const gnk_kernel_info *i = &k->info;
  if (i->layout != GNK_LAYOUT_NHWC || d->layout != GNK_LAYOUT_NHWC || i->dtype != d->dtype || i->act != d->act ||
      i->groups == 0 || i->channels >= d->c || d->c % i->channels != 0)
    return -1;
  /* same channels per group: the block holds whole groups of d */
  return i->channels / i->groups == d->c / d->groups && i->channels % (d->c / d->groups) == 0 ? i->channels : -1;
}

/* FNV-1a over every kernel's name: wisdom made for another list is refused. */
uint64_t gnk_registry_digest(void) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < TABLE_SIZE; ++i) {
    for (const char *p = table[i].info.name; *p; ++p) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ ';') * 1099511628211ull;
  }
  return h;
}

int gnk_kernel_count(void) { return TABLE_SIZE; }
const char *gnk_kernel_name(int index) { return index >= 0 && index < TABLE_SIZE ? table[index].info.name : NULL; }

gnk_status gnk_kernel_get_info(int index, gnk_kernel_info *info) {
  if (!info) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "info is NULL");
  if (index < 0 || index >= TABLE_SIZE)
    return gnk_fail(GNK_ERR_NO_KERNEL, "kernel index %d outside 0..%d", index, TABLE_SIZE - 1);
  *info = table[index].info;
  return GNK_OK;
}

int gnk_kernel_supported(int index) {
  return index >= 0 && index < TABLE_SIZE && table[index].info.isa <= gnk_cpu_isa();
}
