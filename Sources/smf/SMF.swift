import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import SIPTransport
import SMFNode

@main
struct SMF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smf",
        abstract: "Service Management Framework for M2M communities over SIP.",
        version: SMFVersion.current,
        subcommands: [
            RunCommand.self, StatusCommand.self, PresenceCommand.self, MessageCommand.self, MessagesCommand.self,
            SubscriptionsCommand.self, StateCommand.self, OptionsCommand.self, DemoCommand.self, ComposeCommand.self,
            OverlayCommand.self, CommunityCommand.self, SubCommand.self, SimCommand.self, DeployCommand.self, AppsCommand.self,
            AppCommand.self, UndeployCommand.self, EnergyCommand.self, SensorCommand.self, AlarmsCommand.self, SupporterCommand.self,
            AlarmCommand.self,
        ]
    )

    /// Parses and runs the command line, after `smf run --config FILE` put the file's options in it
    /// (``RunConfigFile``).
    static func main() async {
        // Before anything allocates: large tables mapped on their own, freed heap given back (SIPHeapSettings).
        SIPHeapSettings.fixMallocThresholds()
        // Swift Concurrency's jobs run on NIO's event loops, where the sockets are: a datagram, the actors that take it
        // and the answer they send stay on one thread instead of crossing to the cooperative pool and back at every
        // hop (alarm latency, docs/surveillance.md "Measured"). Nothing of ours blocks on a future.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let arguments: [String]
        do {
            arguments = try RunConfigFile.expand(Array(CommandLine.arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("smf run: \(error)\n".utf8))
            Foundation.exit(RunConfigFile.exitCode)
        }
        await main(arguments)
    }
}

/// Options every command that logs shares.
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "Log level on stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown log level '\(logLevel)'; use trace, debug, info, notice, warning, error or critical")
        }
    }

    /// Bootstraps logging to stderr (once per process) and returns a logger for `label`.
    func makeLogger(label: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingBootstrap.once(level: level)
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

enum LoggingBootstrap {
    private static let done: Void = {
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
    }()

    static func once(level: Logger.Level) { _ = done }
}

/// Writes one line to standard output at once (unbuffered), for commands that stream: a reader on a pipe sees
/// each line as it happens.
func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
