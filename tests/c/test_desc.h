/* test_desc.h: a gnk_desc in one call, for the Criterion suite and the
 * programs that cannot link it (tests/tsan: Criterion's runner crashes under
 * ThreadSanitizer). Header-only, like test_shapes.h. */
#ifndef GNK_TEST_DESC_H
#define GNK_TEST_DESC_H
#include "gnk.h"

#include <stdint.h>

static inline gnk_desc make_desc(gnk_layout layout, gnk_act act, int64_t n, int64_t c, int64_t s, int64_t g) {
  gnk_desc d;
  gnk_desc_init(&d);
  d.layout = layout;
  d.act = act;
  d.n = n;
  d.c = c;
  d.spatial = s;
  d.groups = g;
  return d;
}

static inline int64_t desc_numel(const gnk_desc *d) { return d->n * d->c * d->spatial; } /* n*c*spatial */
#endif
