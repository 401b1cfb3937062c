/* Shape helpers shared by the Criterion kernel tests (tests/c) and the
 * portable kernel test (tests/cross, built without Criterion for AArch64). */
#ifndef GNK_TEST_SHAPES_H
#define GNK_TEST_SHAPES_H

#include <stdint.h>
#include <stdlib.h>

/* A divisor of c near sqrt(c), other than 1 and c when c has one. */
static inline int64_t middle_divisor(int64_t c) {
  int64_t best = 1;
  for (int64_t g = 2; g < c; ++g)
    if (c % g == 0 && (best == 1 || llabs(g * g - c) < llabs(best * best - c))) best = g;
  return best;
}

#endif
