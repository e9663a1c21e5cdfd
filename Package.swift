// swift-tools-version: 6.1
import PackageDescription

// Dependencies point one way, top to bottom:
//   CLibYAML → YAML → FlinkResources → Validation → Manifests ───────────────────┐
//                     FlinkResources → Reconciliation (pure, generic) ──────────┼→ Engine (generic) ─┐
//                                      Reconciliation → Planning (pure, Flink) ──────────────────────┼→ Controller (Flink)
//   CSQLite → Store (FlinkResources) ───────────────────────────────────────────┤      FlinkClient, Artifacts ┘   │
//   CSystemShims → Runtime ─────────────────────────────────────────────────────┘              FlinkletCLI → flinklet
//   CLibSSL → LoopbackTLS → FlinkClient (Flink's REST API over HTTP or mutual TLS)
//   FlinkResources, Runtime → Observability (metrics, health) → Engine
//                             Observability → HTTPServer (HummingbirdCore) → FlinkletCLI
//   FlinkResources, Manifests, Store, CSystemShims → KubeAPI (the Kubernetes API) → HTTPServer
let package = Package(
    name: "flinklet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flinklet", targets: ["flinklet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Without its default traits: no swift-configuration support, no full Foundation.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0", traits: []),
    ],
    targets: [
        .systemLibrary(
            name: "CLibYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .target(name: "YAML", dependencies: ["CLibYAML"]),
        .target(name: "FlinkResources", dependencies: ["YAML"]),
        .target(name: "Validation", dependencies: ["FlinkResources"]),
        .target(
            name: "Manifests",
            dependencies: ["FlinkResources", "Validation", "YAML", "CSystemShims", .product(name: "Logging", package: "swift-log")]
        ),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Whether another local user could change what is at a path (owners and modes of every
        // component): the state directory, jars, checkpoint and savepoint directories.
        .target(name: "FileSafety"),
        .target(name: "Store", dependencies: ["CSQLite", "FlinkResources", "FileSafety"]),
        .target(name: "CSystemShims"),
        .target(name: "Runtime", dependencies: ["CSystemShims", .product(name: "Logging", package: "swift-log")]),
        // The engine's plan model and its generic planners (pods, conditions, the status
        // reducer): decisions only, no Flink.
        .target(name: "Reconciliation", dependencies: ["FlinkResources"]),
        // Flink's decisions: imports nothing that can act, so a plan can never have a side effect.
        .target(name: "Planning", dependencies: ["Reconciliation", "FlinkResources"]),
        // OpenSSL 3's libssl, loaded (`dlopen`) on the first TLS use instead of linked.
        .target(name: "CLibSSL"),
        // A non-blocking TLS client session over a socket, and PKCS#12 → PEM (CLibSSL).
        .target(name: "LoopbackTLS", dependencies: ["CLibSSL"]),
        // Flink's REST API over loopback HTTP(S): the only way the operator talks to a cluster.
        .target(name: "FlinkClient", dependencies: ["LoopbackTLS"]),
        // libcurl, loaded when the first http(s) jar is downloaded (not linked: see its header).
        .target(name: "CLibCurl"),
        // Jars named by jarURI: local files, copies, and a content-addressed download cache.
        .target(name: "Artifacts", dependencies: ["CLibCurl", "FileSafety"]),
        .target(name: "FlinkletTesting", dependencies: ["Runtime", "FlinkClient"]),
        // The generic controller: work queue, reconciler/executor, operator services, admission
        // slots, pod records. Knows no Flink: its domain side is a `ReconcilerBackend`.
        .target(
            name: "Engine",
            dependencies: ["Manifests", "Reconciliation", "Store", "Runtime", "FlinkResources", "Observability",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "DequeModule", package: "swift-collections"),
                           .product(name: "HeapModule", package: "swift-collections")]
        ),
        // The Flink controller: the backend (observation, REST steps, jars), the distribution,
        // class-data archives.
        .target(
            name: "Controller",
            dependencies: ["Engine", "Manifests", "Planning", "Reconciliation", "Store", "Runtime", "FlinkResources", "FlinkClient", "Artifacts", "FileSafety", "YAML",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        // Operator metrics (swift-metrics, exported by swift-prometheus), liveness/readiness,
        // the operator's own process figures and Prometheus's file-SD targets: no HTTP here.
        .target(
            name: "Observability",
            dependencies: ["FlinkResources", "Runtime", .product(name: "CoreMetrics", package: "swift-metrics"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        // The Kubernetes API for our kinds (routing, discovery, OpenAPI, tables, watch, writes as
        // manifest file writes), independent of any HTTP server.
        .target(
            name: "KubeAPI",
            dependencies: ["FlinkResources", "Manifests", "Store", "YAML", "CSystemShims",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "DequeModule", package: "swift-collections")]
        ),
        // The operator's loopback HTTP server (HummingbirdCore): /healthz, /readyz, /livez,
        // /metrics, and the Kubernetes API (KubeAPI) for everything else.
        .target(
            name: "HTTPServer",
            dependencies: ["Observability", "KubeAPI",
                           .product(name: "HummingbirdCore", package: "hummingbird"),
                           .product(name: "HummingbirdTLS", package: "hummingbird"),
                           .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .target(
            name: "FlinkletCLI",
            dependencies: [
                "Manifests", "FlinkResources", "YAML", "Engine", "Controller", "Store", "Runtime", "Reconciliation", "Planning", "FlinkClient",
                "Observability", "HTTPServer", "KubeAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "flinklet", dependencies: ["FlinkletCLI"]),
        // Benchmarks: run through hack/bench-*.sh, which build them in release mode.
        .executableTarget(name: "bench-validate", dependencies: ["Manifests", "FlinkResources"], path: "Benchmarks/bench-validate"),
        .executableTarget(
            name: "bench-reconcile",
            dependencies: ["Engine", "Controller", "Reconciliation", "Planning", "Store", "Runtime", "FlinkResources", "FlinkClient", "FlinkletTesting",
                           .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/bench-reconcile"
        ),
        .executableTarget(
            name: "bench-controller",
            dependencies: ["Manifests", "Runtime", "FlinkClient", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/bench-controller"
        ),

        // libFuzzer targets for the parsers of user input. hack/fuzz.sh builds them with
        // -sanitize=fuzzer,address into .build-fuzz; an ordinary build makes a replayer of inputs.
        .executableTarget(name: "flinklet-fuzz", dependencies: ["Manifests", "FlinkResources", "YAML", "Artifacts", "KubeAPI"], path: "Fuzz/flinklet-fuzz"),

        .testTarget(name: "YAMLTests", dependencies: ["YAML", "FlinkletTesting"]),
        .testTarget(name: "FlinkResourcesTests", dependencies: ["FlinkResources", "YAML"]),
        .testTarget(name: "ValidationTests", dependencies: ["Validation", "Manifests", "FlinkResources"]),
        .testTarget(
            name: "ManifestsTests",
            dependencies: ["Manifests", "FlinkResources", "YAML", "FlinkletTesting", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "FlinkletCLITests", dependencies: ["FlinkletCLI", "flinklet", "Store", "FlinkResources", "Runtime", "FlinkletTesting"]),
        .testTarget(
            name: "ObservabilityTests",
            dependencies: ["Observability", "HTTPServer", "KubeAPI", "FlinkResources", "FlinkClient", "Runtime",
                           .product(name: "MetricsTestKit", package: "swift-metrics"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "KubeAPITests",
            dependencies: ["KubeAPI", "Store", "Manifests", "FlinkResources", "FlinkletTesting", "flinklet",
                           .product(name: "Logging", package: "swift-log")],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "PlanningTests", dependencies: ["Reconciliation", "Planning", "FlinkResources"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "FlinkResources", "Runtime"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "FlinkletTesting"]),
        .testTarget(name: "FlinkClientTests", dependencies: ["FlinkClient", "FlinkletTesting", "Runtime"]),
        .testTarget(name: "ArtifactsTests", dependencies: ["Artifacts", "FlinkletTesting"]),
        .testTarget(name: "FileSafetyTests", dependencies: ["FileSafety"]),
        // Real Flink: run by hack/test.sh after installing Flink and building the counter job.
        .testTarget(name: "EndToEndTests", dependencies: ["flinklet", "Store", "FlinkResources", "FlinkClient", "Runtime", "FlinkletTesting", "Controller", "Planning",
                                                           .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "ControllerTests",
            dependencies: ["Engine", "Controller", "Manifests", "Reconciliation", "Planning", "Store", "Runtime", "FlinkResources", "FlinkletTesting", "FlinkClient",
                           .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
