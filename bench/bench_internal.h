/* Shared by the bench_*.c files only. */
#ifndef GNK_BENCH_INTERNAL_H
#define GNK_BENCH_INTERNAL_H

void bench_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
