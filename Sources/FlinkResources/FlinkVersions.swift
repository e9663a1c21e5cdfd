/// Which Flink versions Flinklet runs, and how a version is named in each place: the manifest
/// (`v1_20`), a release (`1.20.5`), what a person types (`1.20`).
///
/// Contract: `supportedVersions` and `releases` are the one list of what Flinklet runs;
/// `hack/install-flink.sh` (its `RELEASES`) installs exactly `releases`. Older values of the
/// enumeration (upstream still names `v1_13`...) are refused by validation with this list.
extension FlinkVersion {
    /// The versions Flinklet runs, oldest first: the 1.x long-term-support line and every 2.x.
    public static let supportedVersions: [FlinkVersion] = [.v1_20, .v2_0, .v2_1, .v2_2, .v2_3]

    /// The newest supported version: what `hack/install-flink.sh` installs by default.
    public static let newest: FlinkVersion = .v2_3

    /// The release `hack/install-flink.sh` installs for each supported version (PyPI's
    /// `apache-flink` + `apache-flink-libraries`).
    public static let releases: [FlinkVersion: String] = [
        .v1_20: "1.20.5", .v2_0: "2.0.2", .v2_1: "2.1.3", .v2_2: "2.2.1", .v2_3: "2.3.0",
    ]

    public var isSupported: Bool { Self.supportedVersions.contains(self) }

    /// `1.20` for `v1_20`.
    public var release: String { String(rawValue.dropFirst()).replacingOccurrences(of: "_", with: ".") }

    /// The version of a release or distribution number: `v1_20` for `1.20.5` or `1.20`; nil for
    /// one the enumeration cannot name.
    public init?(release: String) {
        let parts = release.split(separator: ".")
        guard parts.count >= 2 else { return nil }
        self.init(rawValue: "v\(parts[0])_\(parts[1])")
    }

    /// What makes this version available: `hack/install-flink.sh 1.20`.
    public var installCommand: String { "hack/install-flink.sh \(release)" }

    /// `"v1_20", "v2_0", ...`: the supported values as kubectl lists them.
    public static var supportedList: String { supportedVersions.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") }
}

/// Release order: `v1_20 < v2_0`. A snapshot is restored only by its own or a newer version.
extension FlinkVersion: Comparable {
    public static func < (lhs: FlinkVersion, rhs: FlinkVersion) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
