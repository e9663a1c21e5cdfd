import Testing
@testable import Controller
import Engine

@Suite struct EphemeralPortsTests {
    @Test func theKernelsRangeIsReadAsItIsWritten() {
        #expect(EphemeralPorts.parse("32768\t60999\n") == 32_768...60_999)
        #expect(EphemeralPorts.parse("1024 65535") == 1_024...65_535)
        #expect(EphemeralPorts.parse("") == nil)
        #expect(EphemeralPorts.parse("60999\t32768") == nil)
    }

    @Test func aLeaseRangeBelowTheEphemeralRangeIsQuietAndAnOverlapIsNamed() throws {
        let ephemeral = 32_768...60_999
        #expect(EphemeralPorts.warning(leases: 20_000...29_999, ephemeral: ephemeral) == nil)
        #expect(EphemeralPorts.warning(leases: 20_000...32_767, ephemeral: ephemeral) == nil)
        let warning = try #require(EphemeralPorts.warning(leases: 33_000...39_999, ephemeral: ephemeral))
        #expect(warning.hasPrefix("--ports 33000-39999 overlaps the kernel's ephemeral port range 32768-60999"))
        #expect(warning.hasSuffix("choose a range below 32768"))
        #expect(EphemeralPorts.warning(leases: 30_000...32_768, ephemeral: ephemeral) != nil, "one port is enough to collide")
    }
}
