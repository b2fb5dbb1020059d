import ArgumentParser

@main
struct SMF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "smf", abstract: "Service Management Framework for M2M communities.", version: "0.1.0")
}
