#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes copied into a ``SIPTextArena`` chunk: what a notifier keeps of each subscription's texts
/// (its key, its subscriber's URI) for as long as the subscription lives.
///
/// Why: a subscription made of a few small heap objects scatters them between the much larger,
/// short-lived allocations of the SUBSCRIBE that created it (its transactions, messages, the store
/// write); once those are freed, each small survivor keeps a whole page resident. Ten thousand
/// subscriptions then cost tens of megabytes of pages that are almost empty. Copied into shared
/// chunks instead, their texts sit side by side.
struct SIPArenaBytes: @unchecked Sendable {
    private let chunk: SIPTextArena.Chunk
    private let offset: UInt32
    let count: UInt32

    fileprivate init(chunk: SIPTextArena.Chunk, offset: UInt32, count: UInt32) {
        self.chunk = chunk
        self.offset = offset
        self.count = count
    }

    /// Calls `body` with the bytes (immutable once stored).
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: chunk.base + Int(offset), count: Int(count)))
    }
}

/// Append-only chunks of bytes shared by every notifier in the process; a chunk is freed when no
/// ``SIPArenaBytes`` refers to it any more. Texts longer than a quarter chunk get a chunk of their own.
final class SIPTextArena: @unchecked Sendable {
    /// One block of memory; bytes below `used` never change.
    final class Chunk: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let capacity: Int
        var used = 0

        init(capacity: Int) {
            self.capacity = capacity
            base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        }

        deinit { base.deallocate() }
    }

    /// The arena the notifiers use. Chunks of about a page: a chunk stays while any text in it
    /// lives, so a long-lived subscription among ended ones keeps at most a page, as a small heap
    /// object would.
    static let shared = SIPTextArena(chunkSize: 4096 - 64)

    private let chunkSize: Int
    private var current: Chunk
    /// Guards `current` (allocated apart: a mutex must not move).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init(chunkSize: Int) {
        self.chunkSize = chunkSize
        current = Chunk(capacity: chunkSize)
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// A copy of `bytes` in a chunk.
    func store(_ bytes: UnsafeRawBufferPointer) -> SIPArenaBytes {
        let count = bytes.count
        if count > chunkSize / 4 {
            let chunk = Chunk(capacity: max(count, 1))
            if let source = bytes.baseAddress { chunk.base.copyMemory(from: source, byteCount: count) }
            chunk.used = count
            return SIPArenaBytes(chunk: chunk, offset: 0, count: UInt32(count))
        }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if current.capacity - current.used < count { current = Chunk(capacity: chunkSize) }
        let chunk = current
        let offset = chunk.used
        if let source = bytes.baseAddress { (chunk.base + offset).copyMemory(from: source, byteCount: count) }
        chunk.used += count
        return SIPArenaBytes(chunk: chunk, offset: UInt32(offset), count: UInt32(count))
    }
}

/// A text a notifier keeps for a subscription's life (a peer's URI), as UTF-8 in the arena.
struct SIPArenaText: Hashable, Sendable {
    private let storage: SIPPackedStorage

    init(_ text: String) { storage = SIPPackedStorage.array(Array(text.utf8)).inArena }

    var string: String { storage.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
}

/// Packed bytes in an array (keys made for a lookup) or in the ``SIPTextArena`` (keys a notifier
/// keeps); equal when their bytes are.
enum SIPPackedStorage: Hashable, Sendable {
    case array([UInt8])
    case arena(SIPArenaBytes)

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .array(let bytes): try bytes.withUnsafeBytes(body)
        case .arena(let bytes): try bytes.withUnsafeBytes(body)
        }
    }

    /// The same bytes in the shared arena.
    var inArena: SIPPackedStorage {
        switch self {
        case .arena: self
        case .array(let bytes): .arena(bytes.withUnsafeBytes { SIPTextArena.shared.store($0) })
        }
    }

    /// Whether the first `length` bytes of both are equal.
    func prefixEquals(_ other: SIPPackedStorage, length: Int) -> Bool {
        guard length > 0 else { return true }
        return withUnsafeBytes { a in
            other.withUnsafeBytes { b in
                guard a.count >= length, b.count >= length, let left = a.baseAddress, let right = b.baseAddress else { return false }
                return memcmp(left, right, length) == 0
            }
        }
    }

    static func == (lhs: SIPPackedStorage, rhs: SIPPackedStorage) -> Bool {
        let count = lhs.withUnsafeBytes(\.count)
        return count == rhs.withUnsafeBytes(\.count) && lhs.prefixEquals(rhs, length: count)
    }

    func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
