import ArgumentParser

@main
struct Gatehouse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "A self-hosted API gateway with AWS API Gateway (REST API) semantics.",
        subcommands: [Serve.self, Demo.self, Validate.self, Curl.self, PolicyCommand.self, RenderCommand.self],
        defaultSubcommand: Serve.self)
}
