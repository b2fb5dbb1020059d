import NIOCore
import SIPSyntax

// libFuzzer entry point (libFuzzer provides `main`). For every input:
//
// 1. Datagram: `SIPParser.parse(datagram:)`. What parses must serialise and re-parse to an equal
//    message (up to the Content-Length the serialiser always rewrites), and serialising that must give
//    the same bytes (a fixed point): otherwise trap.
// 2. Stream: the same bytes through `SIPStreamFramer`, cut at a point chosen by the first input byte,
//    with every framed message held to the same round trip. The framer must consume what it reports
//    and must stop (no endless events).
//
// Parse errors are expected and ignored; crashes, ASan reports and the traps below are findings.

private let parser = SIPParser()

@_cdecl("LLVMFuzzerTestOneInput")
public func sipParserFuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let input = ByteBuffer(bytes: UnsafeRawBufferPointer(start: start, count: count))
    if let message = try? parser.parse(datagram: input) {
        checkRoundTrip(message, source: "datagram")
    }
    frameAsStream(input)
    return 0
}

/// Serialise → parse → compare, then serialise again → compare bytes.
///
/// The serialiser normalises one thing by design (SIPMessage+Write.swift): it always writes exactly one
/// correct Content-Length. So the first comparison ignores Content-Length fields; everything else (start
/// line, every other header field in order, body) must survive unchanged, and from then on the message
/// must be an exact fixed point.
private func checkRoundTrip(_ message: SIPMessage, source: StaticString) {
    checkNoControlCharacters(message, source: source)
    var first = ByteBuffer()
    message.write(into: &first)
    let reparsed: SIPMessage
    do {
        reparsed = try parser.parse(datagram: first)
    } catch {
        fatalError("\(source): serialised message does not re-parse: \(error)\n\(String(buffer: first))")
    }
    guard withoutContentLength(reparsed) == withoutContentLength(message) else {
        fatalError("\(source): re-parsed message differs\nfirst:  \(message)\nsecond: \(reparsed)")
    }
    var second = ByteBuffer()
    reparsed.write(into: &second)
    guard second == first else {
        fatalError("\(source): serialisation is not a fixed point\n\(String(buffer: first))\n---\n\(String(buffer: second))")
    }
    guard (try? parser.parse(datagram: second)) == reparsed else {
        fatalError("\(source): normalised message does not round-trip exactly\n\(String(buffer: second))")
    }
}

/// RFC 3261 §25.1: an accepted header value holds no control character but HTAB, unless a
/// quoted-pair escapes it (a backslash right before it). The round trip alone cannot see this: a NUL
/// survives serialisation unchanged.
private func checkNoControlCharacters(_ message: SIPMessage, source: StaticString) {
    for field in message.headers {
        var previous: UInt8 = 0
        for byte in field.value.utf8 {
            if (byte < 0x20 && byte != 0x09) || byte == 0x7F, previous != UInt8(ascii: "\\") {
                fatalError("\(source): accepted control byte \(byte) in \(field.name) header: \(field.value.debugDescription)")
            }
            previous = byte
        }
    }
}

private func withoutContentLength(_ message: SIPMessage) -> SIPMessage {
    switch message {
    case .request(var request):
        request.headers.remove("Content-Length")
        return .request(request)
    case .response(var response):
        response.headers.remove("Content-Length")
        return .response(response)
    }
}

/// Feeds the input to a stream framer in two chunks and round-trips every framed message.
private func frameAsStream(_ input: ByteBuffer) {
    let cut = input.readableBytes == 0 ? 0 : Int(input.getInteger(at: input.readerIndex, as: UInt8.self) ?? 0) % (input.readableBytes + 1)
    var framer = SIPStreamFramer()
    var events = 0
    var appended = 0
    for chunk in [input.getSlice(at: input.readerIndex, length: cut), input.getSlice(at: input.readerIndex + cut, length: input.readableBytes - cut)] {
        guard let chunk else { continue }
        appended += chunk.readableBytes
        framer.append(chunk)
        while true {
            let event: SIPStreamEvent?
            do {
                event = try framer.next()
            } catch {
                return  // framing lost; a transport would close the connection
            }
            guard let event else { break }
            events += 1
            // Every event consumes at least one byte, so there can be no more events than bytes.
            guard events <= appended else { fatalError("stream: \(events) events from \(appended) bytes") }
            guard framer.bufferedBytes <= appended else { fatalError("stream: buffered more than appended") }
            if case .message(let message) = event {
                checkRoundTrip(message, source: "stream")
            }
        }
    }
}
