import SIPCore
import Testing

@Suite struct SIPTimerConfigurationTests {
    @Test func defaultsFollowRFC3261Table4ForUDPAndTCP() {
        let c = SIPTimerConfiguration()
        let udp: [SIPTimer: Duration] = [
            .A: .milliseconds(500), .B: .seconds(32), .D: .seconds(32), .E: .milliseconds(500), .F: .seconds(32),
            .G: .milliseconds(500), .H: .seconds(32), .I: .seconds(5), .J: .seconds(32), .K: .seconds(5),
            .L: .seconds(32), .M: .seconds(32), .trying: .milliseconds(200),
        ]
        for timer in SIPTimer.allCases {
            #expect(c.duration(of: timer, reliability: .unreliable) == udp[timer], "\(timer) on UDP")
        }
        for timer in [SIPTimer.D, .I, .J, .K] {
            #expect(c.duration(of: timer, reliability: .reliable) == .zero, "\(timer) on TCP")
        }
        for timer in [SIPTimer.B, .F, .H, .L, .M] {
            #expect(c.duration(of: timer, reliability: .reliable) == .seconds(32), "\(timer) on TCP")
        }
    }

    @Test func derivedTimersFollowACustomT1AndT4() {
        var c = SIPTimerConfiguration()
        c.t1 = .milliseconds(250)
        c.t4 = .seconds(2)
        #expect(c.duration(of: .B, reliability: .unreliable) == .seconds(16))
        #expect(c.duration(of: .J, reliability: .unreliable) == .seconds(16))
        #expect(c.duration(of: .K, reliability: .unreliable) == .seconds(2))
        #expect(c.duration(of: .I, reliability: .unreliable) == .seconds(2))
    }
}
