// swift-tools-version: 6.0
import PackageDescription

// One list of compiler settings for every Swift target (STYLE.md, habit 15).
let settings: [SwiftSetting] = [
    .enableExperimentalFeature("StrictConcurrency"),
]
/// For the modules whose objects live on one event loop each (the loop, the HTTP engine, the
/// pipeline, the plugins): dynamic exclusivity checks on their class properties cost about 7 %
/// of a proxied request's user time (perf: swift_beginAccess/endAccess/AccessSet::insert), and
/// a loop-confined object has no concurrent access for them to catch. Debug builds (and so the
/// unit tests) keep them.
let loopConfined: [SwiftSetting] = settings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Gatehouse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gatehouse", targets: ["gatehouse"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CLibUV", path: "Sources/CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CHTTPParser", path: "Sources/CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),

        .target(name: "GatehouseJSON", swiftSettings: settings),
        .target(name: "GatehouseCalendar", swiftSettings: settings),
        .target(name: "GatehouseObserve", dependencies: ["GatehouseCalendar", "GatehouseJSON"], swiftSettings: settings),
        .target(name: "GatehouseSigV4", dependencies: ["COpenSSL", "GatehouseCalendar"], swiftSettings: settings),
        // The template engine's objects are reached through class properties on every node;
        // dynamic exclusivity checks there cost a fifth of a render (perf), so they are off
        // for this module only (it has no concurrent access: one renderer per render).
        .target(name: "GatehouseMapping", dependencies: ["GatehouseJSON"],
                swiftSettings: settings + [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "GatehousePolicy", dependencies: ["GatehouseJSON", "GatehouseCalendar"], swiftSettings: settings),
        .target(name: "GatehouseLoop", dependencies: ["CLibUV"], swiftSettings: loopConfined),
        .target(name: "GatehouseTLS", dependencies: ["COpenSSL"], swiftSettings: settings),
        .target(name: "GatehouseHTTP", dependencies: ["GatehouseLoop", "GatehouseTLS", "CHTTPParser", "CLibUV"], swiftSettings: loopConfined),
        .target(name: "GatehouseModel", dependencies: ["GatehouseJSON", "GatehousePolicy", "GatehouseCalendar", "Yams"], swiftSettings: settings),
        .target(name: "GatehouseCore", dependencies: [
            "GatehouseJSON", "GatehouseLoop", "GatehouseHTTP", "GatehouseSigV4", "GatehousePolicy", "GatehouseModel",
            "GatehouseObserve", "GatehouseCalendar", "GatehouseMapping",
        ], swiftSettings: loopConfined),

        // Integration backends. `plugins/` is Gatehouse's folder of integration plugins, not
        // SwiftPM's build-tool plugins, so each target names its path explicitly.
        .target(name: "StepFunctions", dependencies: ["GatehouseCore"], path: "plugins/StepFunctions", swiftSettings: loopConfined),
        .target(name: "HTTPIntegration", dependencies: ["GatehouseCore"], path: "plugins/HTTPIntegration", swiftSettings: loopConfined),
        .target(name: "Mock", dependencies: ["GatehouseCore"], path: "plugins/Mock", swiftSettings: loopConfined),
        .target(name: "LocalWorkflows", dependencies: ["GatehouseJSON", "GatehouseCalendar", "COpenSSL"], path: "plugins/LocalWorkflows", swiftSettings: settings),
        .target(name: "GatehouseSQLite", dependencies: ["CSQLite", "LocalWorkflows", "GatehouseJSON"], swiftSettings: settings),

        .executableTarget(name: "gatehouse", dependencies: [
            "GatehouseCore", "GatehouseMapping", "StepFunctions", "LocalWorkflows", "GatehouseSQLite", "HTTPIntegration", "Mock",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: settings),

        // `swift run -c release sigv4-bench`: SigV4 verification time (see bench/README.md).
        .target(name: "BenchSupport", path: "bench/support", swiftSettings: settings),
        .executableTarget(name: "sigv4-bench", dependencies: ["GatehouseSigV4", "BenchSupport"], path: "bench/sigv4", swiftSettings: settings),
        .executableTarget(name: "vtl-bench", dependencies: ["GatehouseMapping", "GatehouseJSON", "BenchSupport"], path: "bench/vtl",
                          exclude: ["case.json", "airspeed_bench.py"], swiftSettings: settings),
        .executableTarget(name: "policy-bench", dependencies: ["GatehousePolicy", "BenchSupport"], path: "bench/policy", swiftSettings: settings),

        .testTarget(name: "GatehouseJSONTests", dependencies: ["GatehouseJSON"]),
        .testTarget(name: "GatehouseObserveTests", dependencies: ["GatehouseObserve", "GatehouseJSON"]),
        .testTarget(name: "GatehouseTLSTests", dependencies: ["GatehouseTLS"]),
        .testTarget(name: "GatehouseSigV4Tests", dependencies: ["GatehouseSigV4"], resources: [.copy("Fixtures")]),
        .testTarget(name: "GatehouseMappingTests", dependencies: ["GatehouseMapping"]),
        .testTarget(name: "GatehousePolicyTests", dependencies: ["GatehousePolicy", "GatehouseJSON"]),
        .testTarget(name: "GatehouseModelTests", dependencies: ["GatehouseModel"]),
        .testTarget(name: "GatehouseHTTPTests", dependencies: ["GatehouseHTTP", "GatehouseLoop", "CHTTPParser"]),
        .testTarget(name: "GatehouseCoreTests", dependencies: ["GatehouseCore", "GatehouseModel"]),
        .testTarget(name: "LocalWorkflowsTests", dependencies: ["LocalWorkflows", "GatehouseJSON", "GatehouseSQLite"]),
    ]
)
