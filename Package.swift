// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let testSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

/// What the tests of a whole node need: the node, its clients, and HTTP and WebSocket clients of their own.
let nodeTestDependencies: [Target.Dependency] = [
    "ParleyServer",
    "ParleyClient",
    "ParleyTestSupport",
    .product(name: "AsyncHTTPClient", package: "async-http-client"),
    .product(name: "HummingbirdTesting", package: "hummingbird"),
    .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
    .product(name: "NIOHTTP1", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOWebSocket", package: "swift-nio"),
]

// Parley's topology, as these targets build it: clients (a browser, `parley`, `parley-bench`) reach a load balancer
// (HAProxy in scripts/cluster, Traefik in docker-compose.yml), which sends /api to API nodes and /ws to WS nodes. Both
// are the one `parley` executable (`serve --role api|ws|all`, ParleyServer). Every node keeps durable state in the
// store (ParleyStore: Postgres, or SQLite embedded) and shares live state over the bus (ParleyBus: Redis pub/sub, or
// in-process embedded), across which WS nodes fan out events and relay WebRTC signals.
let package = Package(
    name: "parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
        .executable(name: "parley-bench", targets: ["parley-bench"]),
        .executable(name: "parley-chaos", targets: ["parley-chaos"]),
        .executable(name: "parley-peer", targets: ["parley-peer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // Domain types, errors, and the wire protocol as types (frames, events, replies, bus channel names). No I/O.
        .target(name: "ParleyCore", swiftSettings: swiftSettings),

        // Durable state: the Store protocol over Postgres and SQLite. The schema is the top-level `migrations/` folder,
        // built into the store by the EmbedMigrations plugin.
        .target(
            name: "ParleyStore",
            dependencies: [
                "ParleyCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedMigrations"]
        ),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["parley-embed-migrations"]),
        .executableTarget(name: "parley-embed-migrations", path: "Sources/EmbedMigrationsTool", swiftSettings: swiftSettings),

        // Debian's hiredis (libhiredis-dev): the RESP reader and the command formatter of the Redis bus.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),

        // Live state between nodes: the Bus protocol, in-process and over Redis (one subscription per node, pipelined
        // publishes, presence heartbeats, counters).
        .target(
            name: "ParleyBus",
            dependencies: [
                "CHiredis",
                "ParleyCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // A node: the composition root (`buildApplication`), the REST API of API nodes (Controllers/), the WebSocket
        // gateway of WS nodes (Gateway/: the hub on the bus, one Connection per socket), meetings and signaling,
        // presence, the outbox relay, the drain, and the static web client (Public/).
        .target(
            name: "ParleyServer",
            dependencies: [
                "ParleyCore",
                "ParleyStore",
                "ParleyBus",
                "ParleyFiles",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Public"), .copy("openapi.json")],
            swiftSettings: swiftSettings
        ),

        // Files: the BlobStore behind attachments and avatars, on disk or in S3-compatible storage, and the
        // Signature V4 signer that S3 takes (swift-crypto; no S3 package is used).
        .target(
            name: "ParleyFiles",
            dependencies: [
                "ParleyCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Swift clients of Parley: REST (ParleyClient) and the realtime protocol (LiveClient), for the benchmark, the
        // chaos driver and the tests.
        .target(
            name: "ParleyClient",
            dependencies: [
                "ParleyCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // The benchmark's library: an open-loop load generator on NIO, the scenarios, and BENCHMARKS.md.
        .target(
            name: "ParleyBench",
            dependencies: [
                "ParleyClient",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // What the terminal clients, `parley` and `parley-peer`, share: the profile's stored sign-in and its renewal,
        // --server and --profile, room names, output and exit statuses, and files sent and saved.
        .target(
            name: "ParleyCommandLine",
            dependencies: [
                "ParleyClient",
                "ParleyCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // The shipping executable: a node (`serve`), `migrate`, and the client commands (login, rooms, send, tail, ...).
        .executableTarget(
            name: "parley",
            dependencies: [
                "ParleyServer",
                "ParleyClient",
                "ParleyCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),

        // Debian's GStreamer 1.22 (libgstreamer-plugins-bad1.0-dev): webrtcbin, SDP, and the shims that call its
        // variadic signal API from Swift.
        .systemLibrary(
            name: "CGStreamer", pkgConfig: "gstreamer-webrtc-1.0",
            providers: [.apt(["libgstreamer1.0-dev", "libgstreamer-plugins-bad1.0-dev"])]),

        // `parley-peer call|answer|join`: a WebRTC attendee on GStreamer that meets browsers as an equal. Its own
        // executable, so that a node never links GStreamer.
        .executableTarget(
            name: "parley-peer",
            dependencies: [
                "CGStreamer",
                "ParleyClient",
                "ParleyCommandLine",
                "ParleyCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // `parley-bench SCENARIO`, run by scripts/bench against a cluster of its own.
        .executableTarget(
            name: "parley-bench",
            dependencies: [
                "ParleyBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // The chaos test's load and fault driver, run by scripts/chaos against a scripts/cluster.
        .executableTarget(
            name: "parley-chaos",
            dependencies: [
                "ParleyClient",
                "ParleyCore",
                "ParleyBus",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // For the tests: parley nodes and a redis-server of their own as child processes, the test servers read from the
        // environment in one place, waits on conditions (`waitUntil`), and bus and store doubles.
        .target(
            name: "ParleyTestSupport",
            dependencies: [
                "ParleyBus",
                "ParleyStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/ParleyTestSupport", swiftSettings: testSettings),
        .testTarget(
            name: "ParleyCoreTests",
            dependencies: ["ParleyCore"],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "ParleyStoreTests",
            dependencies: ["ParleyStore", "ParleyCore", "ParleyTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "ParleyBusTests",
            dependencies: ["ParleyBus", "ParleyCore", "ParleyTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "ParleyClientTests",
            dependencies: ["ParleyClient"],
            swiftSettings: testSettings
        ),
        // Fast: units, and whole nodes tested in process (router and live tests on SQLite and the in-process bus).
        .testTarget(
            name: "ParleyServerTests",
            dependencies: nodeTestDependencies + [
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "ParleyFilesTests",
            dependencies: [
                "ParleyFiles",
                "ParleyTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: testSettings
        ),
        // parley-peer's media layer on GStreamer: two peer connections in one process, on loopback.
        .testTarget(
            name: "ParleyPeerTests",
            dependencies: ["parley-peer", "ParleyCore", "ParleyTestSupport"],
            swiftSettings: testSettings
        ),
        // Real processes: `parley` nodes as children, clusters on Postgres and Redis (PARLEY_TEST_DATABASE_URL,
        // PARLEY_TEST_REDIS_URL; scripts/test sets both).
        .testTarget(
            name: "ParleyIntegrationTests",
            dependencies: nodeTestDependencies + [.product(name: "Logging", package: "swift-log")],
            swiftSettings: testSettings
        ),
    ]
)
