import ArgumentParser
import ControlChannel
import Foundation

/// Options of every command that acts on a running node: which node, found by its data directory.
///
/// Commands pull it in with `@OptionGroup var node: NodeOptions` and talk to the node with
/// ``withControlClient(_:)``, which reports "no smf node is running with data dir X" and exits 1 when none is.
struct NodeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Data directory of the running node (as given to `smf run --data`).", valueName: "dir"))
    var data: String

    func validate() throws {
        guard !data.isEmpty else { throw ValidationError("--data must name a directory") }
    }

    /// Connects to the node's control socket, runs `body`, and turns control errors into a message on stderr and
    /// exit status 1 (prefixed with `command`, e.g. `smf status: …`).
    func withControlClient<Result: Sendable>(
        command: String,
        _ body: (ControlClient) async throws -> Result
    ) async throws -> Result {
        do {
            return try await ControlClient.withConnection(dataDirectory: data, body)
        } catch let error as ControlError {
            FileHandle.standardError.write(Data("\(command): \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
