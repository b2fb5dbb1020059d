internal import CLibXML2

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide libxml2 set-up, done once.
enum LibXML2 {
    /// Runs `xmlInitParser` once, thread-safely (Swift global initialisers run exactly once, under a lock).
    ///
    /// It also installs libxml2's "no network" external entity loader for the whole process, so that no
    /// libxml2 code path (including schema `xs:include`/`xs:import` resolution) can fetch over HTTP/FTP.
    static func initialize() {
        _ = initialized
    }

    private static let initialized: Bool = {
        xmlInitParser()
        xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader)
        return true
    }()

    /// The parser options every document parse uses.
    ///
    /// - `NONET`: no network access, ever.
    /// - `NOCDATA`: CDATA sections become ordinary text.
    /// - `BIG_LINES`: line numbers above 65535 are kept.
    ///
    /// Deliberately absent: `NOENT` (entity substitution) and `DTDLOAD`/`DTDATTR`/`DTDVALID` (external DTD
    /// loading), so external entities are never read (no XXE); `HUGE` (libxml2's default size and depth
    /// limits stay in force); `RECOVER` (malformed input is an error).
    static let documentOptions: Int32 = Int32(
        bitPattern: XML_PARSE_NONET.rawValue | XML_PARSE_NOCDATA.rawValue | XML_PARSE_BIG_LINES.rawValue
    )
}

/// Collects libxml2's structured errors for one operation.
///
/// Passed to C as an unretained pointer; the owner keeps it alive for the duration of the call.
final class DiagnosticCollector {
    let defaultFile: String
    private(set) var diagnostics: [XMLDiagnostic] = []

    init(defaultFile: String?) {
        self.defaultFile = defaultFile ?? "<memory>"
    }

    var opaque: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> DiagnosticCollector? {
        guard let pointer else { return nil }
        return Unmanaged<DiagnosticCollector>.fromOpaque(pointer).takeUnretainedValue()
    }

    func add(_ error: xmlErrorPtr) {
        let raw = error.pointee
        let severity: XMLDiagnostic.Severity =
            switch raw.level {
            case XML_ERR_WARNING: .warning
            case XML_ERR_FATAL: .fatal
            default: .error
            }
        var message = raw.message.map { String(cString: $0) } ?? "unknown libxml2 error (code \(raw.code))"
        while let last = message.last, last.isNewline || last == " " { message.removeLast() }
        let file = raw.file.map { String(cString: $0) } ?? defaultFile
        diagnostics.append(
            XMLDiagnostic(
                file: file,
                line: Int(max(raw.line, 0)),
                column: Int(max(raw.int2, 0)),
                severity: severity,
                message: message
            )
        )
    }

    func add(_ diagnostic: XMLDiagnostic) {
        diagnostics.append(diagnostic)
    }

    /// Runs `body` with this collector as the calling thread's libxml2 structured error handler, so that
    /// errors raised without a context (rare) are collected instead of printed; the previous handler is
    /// restored afterwards. `body` must be synchronous (the handler is thread-local).
    func collectingThreadErrors<T>(_ body: () -> T) -> T {
        let previousHandler = __xmlStructuredError()?.pointee
        let previousContext = __xmlStructuredErrorContext()?.pointee
        xmlSetStructuredErrorFunc(opaque, collectDiagnostic)
        defer { xmlSetStructuredErrorFunc(previousContext, previousHandler) }
        return body()
    }
}

/// The C callback libxml2 calls with each error; `context` is a ``DiagnosticCollector``.
func collectDiagnostic(_ context: UnsafeMutableRawPointer?, _ error: xmlErrorPtr?) {
    guard let error, let collector = DiagnosticCollector.from(context) else { return }
    collector.add(error)
}

/// The C callback for a parser context: libxml2 passes the context's `userData` (the context itself),
/// whose `_private` holds the ``DiagnosticCollector``.
func collectParserDiagnostic(_ userData: UnsafeMutableRawPointer?, _ error: xmlErrorPtr?) {
    guard let error, let userData else { return }
    let context = userData.assumingMemoryBound(to: xmlParserCtxt.self)
    guard let collector = DiagnosticCollector.from(context.pointee._private) else { return }
    collector.add(error)
}

/// A plain mutual-exclusion lock (pthread), usable on every platform we build for.
final class PThreadLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
