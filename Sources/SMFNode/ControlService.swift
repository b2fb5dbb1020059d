import ControlChannel
import ServiceLifecycle

/// Runs the node's ``ControlServer`` as a `Service`: serves `smf` commands until graceful shutdown, then closes the
/// socket (and removes `control.sock`).
///
/// It is listed after the transport, so on shutdown it stops first: no command reaches a node that is stopping.
struct ControlService: Service {
    let server: ControlServer

    func run() async throws {
        let server = self.server
        try await cancelWhenGracefulShutdown { try await server.run() }
    }
}
