// glibc's heap statistics for the memory figures (malloc.h is not part of Swift's Glibc module).
#ifndef C_BENCH_SUPPORT_H
#define C_BENCH_SUPPORT_H

#include <stddef.h>

/// Bytes malloc has handed out and not got back (`mallinfo2()`: `uordblks + hblkhd`); -1 without glibc.
long long c_bench_heap_in_use(void);

/// Returns glibc's cached free heap to the kernel (`malloc_trim(0)`); does nothing without glibc.
void c_bench_trim_heap(void);

#endif
