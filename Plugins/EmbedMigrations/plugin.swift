import Foundation
import PackagePlugin

/// Bundles the top-level `migrations/` folder, the single source of the schema, into the store at build time: the
/// SQL becomes a Swift table of files, so that a node needs nothing beside its binary to migrate.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "migrations")
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) migrations",
                executable: try context.tool(named: "parley-embed-migrations").url,
                arguments: [folder.path, output.path] + files,
                inputFiles: files.map { folder.appending(path: $0) },
                outputFiles: [output])
        ]
    }
}
