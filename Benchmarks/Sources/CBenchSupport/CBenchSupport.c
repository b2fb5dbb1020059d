#include "CBenchSupport.h"

#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif

long long c_bench_heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    // Small blocks from the arenas plus the large ones malloc maps on their own (e.g. big dictionary storage).
    return (long long)info.uordblks + (long long)info.hblkhd;
#else
    return -1;
#endif
}

void c_bench_trim_heap(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
