import Testing

@testable import SMFNode

/// Reading `smf run --config` files (docs/cli.md "Config file"); the process test is in ConfigFileProcessTests.
@Suite struct NodeConfigFileTests {
    /// A stand-in for the options `smf run` declares (the real list is derived from RunCommand).
    let options = [
        NodeConfigFile.Option(names: ["data"], isFlag: false, isRepeating: false),
        NodeConfigFile.Option(names: ["listen"], isFlag: false, isRepeating: true),
        NodeConfigFile.Option(names: ["user"], isFlag: false, isRepeating: false),
        NodeConfigFile.Option(names: ["bootstrap"], isFlag: false, isRepeating: true),
        NodeConfigFile.Option(names: ["register-expires"], isFlag: false, isRepeating: false),
        NodeConfigFile.Option(names: ["discovery", "no-discovery"], isFlag: true, isRepeating: false),
        NodeConfigFile.Option(names: ["verbose"], isFlag: true, isRepeating: false),
    ]

    func arguments(_ text: String, omitting: Set<String> = []) throws -> [String] {
        try NodeConfigFile(text: text, path: "smf.conf").arguments(options: options, omitting: omitting).flatMap(\.arguments)
    }

    func error(_ text: String) -> NodeConfigFileError? {
        do {
            _ = try NodeConfigFile(text: text, path: "/etc/smf/smf.conf").arguments(options: options)
            return nil
        } catch {
            return error
        }
    }

    @Test func keyValueLinesBecomeOptionsInFileOrder() throws {
        let text = """
            # a node of the building
            data = /var/lib/smf
            user = "gateway 1"     # quoted: keeps the space
            listen = udp:0.0.0.0:5060
            listen = 'tcp:0.0.0.0:5060'

            register-expires = 600
            """
        #expect(
            try arguments(text) == [
                "--data", "/var/lib/smf", "--user", "gateway 1", "--listen", "udp:0.0.0.0:5060", "--listen", "tcp:0.0.0.0:5060",
                "--register-expires", "600",
            ])
    }

    @Test func repeatableKeyTakesATOMLArray() throws {
        #expect(
            try arguments(#"bootstrap = ["sip:10.0.0.1:5060", 10.0.0.2:5060 ]  # two peers"#)
                == ["--bootstrap", "sip:10.0.0.1:5060", "--bootstrap", "10.0.0.2:5060"])
    }

    @Test func flagsTakeTrueOrFalseAndUseTheirInverse() throws {
        #expect(try arguments("discovery = false") == ["--no-discovery"])
        #expect(try arguments("discovery = true") == ["--discovery"])
        #expect(try arguments("no-discovery = true") == ["--no-discovery"])
        #expect(try arguments("verbose = true") == ["--verbose"])
        #expect(try arguments("verbose = false") == [])
        #expect(error("verbose = yes")?.description == "/etc/smf/smf.conf:1: 'verbose' is a flag: give true or false")
    }

    @Test func optionsOnTheCommandLineLeaveTheFilesOut() throws {
        let text = """
            data = /var/lib/smf
            listen = udp:0.0.0.0:5060
            listen = tcp:0.0.0.0:5060
            discovery = false
            """
        #expect(try arguments(text, omitting: ["listen"]) == ["--data", "/var/lib/smf", "--no-discovery"])
        // Either name of a flag on the command line replaces the file's setting.
        #expect(try arguments(text, omitting: ["discovery"]) == ["--data", "/var/lib/smf", "--listen", "udp:0.0.0.0:5060", "--listen", "tcp:0.0.0.0:5060"])
    }

    @Test func underscoresReadAsDashes() throws {
        #expect(try arguments("register_expires = 900") == ["--register-expires", "900"])
    }

    @Test func valueMayHoldEqualsSignsAndQuotedHashes() throws {
        #expect(try arguments("bootstrap = sip:10.0.0.1:5060;transport=tcp") == ["--bootstrap", "sip:10.0.0.1:5060;transport=tcp"])
        #expect(try arguments(#"user = "a#b\"c""#) == ["--user", "a#b\"c"])
    }

    @Test func unknownKeyNamesFileLineAndTheNearestKey() {
        #expect(
            error("data = /tmp/x\nlistn = udp:127.0.0.1:5060")?.description
                == "/etc/smf/smf.conf:2: unknown key 'listn' (did you mean 'listen'?); the keys are the long options of smf run")
        #expect(
            error("colour = blue")?.description == "/etc/smf/smf.conf:1: unknown key 'colour'; the keys are the long options of smf run")
    }

    @Test func malformedLinesAreNamed() {
        #expect(error("\n\nuser =")?.description == "/etc/smf/smf.conf:3: missing value for 'user'")
        #expect(error("user = # nobody")?.description == "/etc/smf/smf.conf:1: missing value for 'user'")
        #expect(error("just words")?.description == "/etc/smf/smf.conf:1: expected key = value, found 'just words'")
        #expect(error("= 5")?.description == "/etc/smf/smf.conf:1: a value without a key")
        #expect(error(#"user = "open"#)?.description == "/etc/smf/smf.conf:1: unterminated string in the value of 'user'")
        #expect(error(#"user = "a" b"#)?.description == "/etc/smf/smf.conf:1: unexpected 'b' after the value of 'user'")
        #expect(error("listen = [udp:127.0.0.1:5060")?.description.hasPrefix("/etc/smf/smf.conf:1: unterminated array") == true)
        #expect(error("[node]")?.description == "/etc/smf/smf.conf:1: tables such as [node] are not supported; write key = value lines")
        #expect(error(#"user = "\q""#)?.description.hasPrefix("/etc/smf/smf.conf:1: unknown escape \\q") == true)
    }

    @Test func singleValueKeyGivenTwiceOrAsAListIsRefused() {
        #expect(error("user = a\nuser = b")?.description == "/etc/smf/smf.conf:2: 'user' is set twice (first on line 1)")
        #expect(error("user = [a, b]")?.description == "/etc/smf/smf.conf:1: 'user' takes one value, not a list")
        #expect(error("discovery = true\nno-discovery = true")?.description == "/etc/smf/smf.conf:2: 'no-discovery' is set twice (first on line 1)")
    }

    @Test func windowsLineEndsAndIndentationAreAccepted() throws {
        #expect(try arguments("  user = alice\r\n\tdata = /d\r\n") == ["--user", "alice", "--data", "/d"])
    }

    @Test func nearestKeyIsOnlySuggestedWhenClose() {
        let names = ["listen", "overlay-stabilize-ms", "overlay-timeout-ms", "register-expires"]
        #expect(NodeConfigFile.nearest(to: "overlay-timeout", among: names) == "overlay-timeout-ms")
        #expect(NodeConfigFile.nearest(to: "register-expire", among: names) == "register-expires")
        #expect(NodeConfigFile.nearest(to: "zzz", among: names) == nil)
    }
}
