import ArgumentParser
import ControlChannel
import Foundation
import SMFNode

/// `smf message send URI TEXT`: one pager-mode MESSAGE (RFC 3428) from the running node.
struct MessageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "message",
        abstract: "Send a MESSAGE from the running node.",
        subcommands: [MessageSendCommand.self]
    )
}

struct MessageSendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send a MESSAGE and print what became of it.",
        discussion: "Prints 'delivered: 200' on a 2xx and exits 0; otherwise prints the status and reason (or the timeout) and exits 1."
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("Recipient, e.g. sip:bob@127.0.0.1:5060.", valueName: "uri"))
    var uri: String

    @Argument(help: ArgumentHelp("The message body.", valueName: "text"))
    var text: String

    @Option(name: .long, help: ArgumentHelp("Content-Type of the body.", valueName: "type"))
    var contentType: String = "text/plain"

    func validate() throws {
        guard uri.hasPrefix("sip:") || uri.hasPrefix("sips:") else {
            throw ValidationError("'\(uri)' is not a sip: URI, e.g. sip:bob@127.0.0.1:5060")
        }
        guard contentType.contains("/") else { throw ValidationError("--content-type must be type/subtype, not '\(contentType)'") }
    }

    func run() async throws {
        let arguments = MessageSendArguments(uri: uri, text: text, contentType: contentType)
        let result = try await node.withControlClient(command: "smf message send") { client in
            try await client.call("message.send", arguments: arguments, as: MessageSendResult.self)
        }
        switch result.outcome {
        case "delivered":
            print("delivered: \(result.statusCode.map(String.init) ?? "2xx")")
        case "rejected":
            print("rejected: \(result.statusCode.map(String.init) ?? "?") \(result.reason ?? "")")
            throw ExitCode(1)
        default:
            print("not delivered: \(result.reason ?? "no final response")")
            throw ExitCode(1)
        }
    }
}

/// `smf messages [--follow]`: the MESSAGEs the node received.
struct MessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messages",
        abstract: "List the MESSAGEs the running node received (time, from, text).",
        discussion: "With --follow, keeps printing new messages as they arrive until Ctrl-C."
    )

    @OptionGroup var node: NodeOptions

    @Flag(name: .long, help: "After the listing, print new messages as they arrive.")
    var follow = false

    @Option(name: .long, help: ArgumentHelp("Show at most this many (the newest).", valueName: "n"))
    var limit: Int = 1000

    @Flag(name: .long, help: "Print each message as a JSON line.")
    var json = false

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive, not \(limit)") }
    }

    func run() async throws {
        let arguments = MessagesArguments(afterID: 0, limit: limit)
        let asJSON = json
        if follow {
            try await node.withControlClient(command: "smf messages") { client in
                let events = try await client.stream("messages.follow", try ControlValue(encoding: arguments))
                for try await value in events {
                    if asJSON {
                        printLine(value.jsonText(pretty: false))
                    } else if let message = try? value.decode(ReceivedMessage.self) {
                        printLine(Self.format(message))
                    }
                }
            }
            return
        }
        let messages = try await node.withControlClient(command: "smf messages") { client in
            try await client.call("messages.list", arguments: arguments, as: [ReceivedMessage].self)
        }
        for message in messages {
            if asJSON {
                print((try? ControlValue(encoding: message))?.jsonText(pretty: false) ?? "{}")
            } else {
                print(Self.format(message))
            }
        }
    }

    /// `2026-11-23T06:40:00Z sip:bob@127.0.0.1:5070 pump 7 alarm` (non-text bodies show their type and size).
    static func format(_ message: ReceivedMessage) -> String {
        let time = Date(timeIntervalSince1970: message.receivedAt).formatted(.iso8601)
        let from = message.from.isEmpty ? "-" : message.from
        let isText = message.contentType.lowercased().hasPrefix("text/") || message.contentType.lowercased().hasPrefix("application/json")
        let text = isText ? message.text.replacingOccurrences(of: "\n", with: "\\n") : "(\(message.contentType), \(message.text.utf8.count) bytes)"
        return "\(time) \(from) \(text)"
    }
}
