import Testing

@testable import SIPTransport

@Suite struct SIPHeapSettingsTests {
    #if canImport(Glibc)
    @Test func mallocThresholdsAreSetOnGlibc() {
        // mallopt is found at run time and accepts both settings (the memory effect is the
        // sip.subscription_bytes bench figure).
        #expect(SIPHeapSettings.fixMallocThresholds())
        #expect(SIPHeapSettings.fixMallocThresholds(bytes: 256 * 1024))
        #expect(SIPHeapSettings.fixMallocThresholds())
    }
    #endif
}
