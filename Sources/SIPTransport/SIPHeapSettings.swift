#if canImport(Glibc)
import Glibc
#endif

/// Process-wide heap settings for a long-running SIP node (glibc only; a no-op elsewhere).
///
/// glibc adjusts two malloc thresholds on its own: each time a block above the mmap threshold (128 KiB at
/// start) is freed, the mmap threshold rises to that block's size (up to 32 MiB) and the trim threshold to
/// twice that. A node's tables grow by doubling (10,000 subscriptions make dictionaries of several MiB), so
/// after a few growths every large table lives inside the heap, and the free space at the top of a thread's
/// arena is only given back once it exceeds up to 64 MiB. `malloc_trim` does not trim that top either. A burst
/// of SUBSCRIBEs, whose transactions live 32 s (RFC 3261 §17.2.2 Timer J), thus left about 1 KB of freed
/// memory resident per subscription that outlived it (`sip.subscription_bytes`, Benchmarks/README.md).
///
/// ``fixMallocThresholds(bytes:)`` sets both thresholds explicitly, which also stops the adjustment: large
/// tables are mapped on their own and unmapped when they grow, and arena tops are trimmed as they empty.
public enum SIPHeapSettings {
    /// Sets glibc's `M_MMAP_THRESHOLD` and `M_TRIM_THRESHOLD` to `bytes` (default 128 KiB, glibc's initial values)
    /// and turns off their adjustment. Call it once at process start, before the node allocates.
    /// - Returns: whether both settings were applied (false without glibc).
    @discardableResult
    public static func fixMallocThresholds(bytes: Int = 128 * 1024) -> Bool {
        #if canImport(Glibc)
        // mallopt(3) is declared in <malloc.h>, which Swift's Glibc module does not include; it is looked up
        // by name instead, so a libc without it is simply left alone.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let value = Int32(clamping: bytes)
        // <malloc.h>: M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3; mallopt returns 1 on success.
        let trim = mallopt(-1, value)
        let mmap = mallopt(-3, value)
        return trim == 1 && mmap == 1
        #else
        return false
        #endif
    }
}
