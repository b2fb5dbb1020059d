import NIOCore
import Testing

@testable import SIPSyntax

/// A parsed message's body must not keep the buffer it was read from alive: a UDP read allocates 64 KiB,
/// and transactions hold requests for 32 s.
@Suite struct SIPParserBodyStorageTests {
    let head =
        "NOTIFY sip:watcher@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
        + "From: <sip:alarm@127.0.0.1>;tag=a\r\nTo: <sip:watcher@127.0.0.1>;tag=b\r\nCall-ID: c1\r\nCSeq: 2 NOTIFY\r\n"
        + "Max-Forwards: 70\r\nEvent: m2m-alarm\r\nSubscription-State: active\r\nContent-Type: text/plain\r\n"

    /// `text` in a buffer of 64 KiB, as NIO's UDP reads hand it over.
    func readBuffer(_ text: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 65_536)
        buffer.writeString(text)
        return buffer
    }

    @Test func datagramBodyIsACopyOfItsOwnSize() throws {
        let datagram = readBuffer(head + "Content-Length: 5\r\n\r\nquiet")
        guard case .request(let request) = try SIPParser().parse(datagram: datagram) else {
            Issue.record("expected a request")
            return
        }
        #expect(request.body.readableBytes == 5)
        #expect(String(buffer: request.body) == "quiet")
        #expect(request.body.storageCapacity < 1024, "the body still holds the 64 KiB read buffer")
    }

    @Test func emptyDatagramBodyHoldsNoStorageOfTheRead() throws {
        let datagram = readBuffer(head + "Content-Length: 0\r\n\r\n")
        guard case .request(let request) = try SIPParser().parse(datagram: datagram) else {
            Issue.record("expected a request")
            return
        }
        #expect(request.body.readableBytes == 0)
        #expect(request.body.storageCapacity < 1024)
    }

    @Test func streamBodyIsACopyAndTheNextMessageStillFrames() throws {
        var framer = SIPStreamFramer()
        framer.append(readBuffer(head + "Content-Length: 5\r\n\r\nquiet" + head + "Content-Length: 4\r\n\r\nloud"))
        var bodies: [String] = []
        while let event = try framer.next() {
            guard case .message(.request(let request)) = event else { continue }
            #expect(request.body.storageCapacity < 1024)
            bodies.append(String(buffer: request.body))
        }
        #expect(bodies == ["quiet", "loud"])
    }
}
