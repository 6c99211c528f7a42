import Foundation

// parley-embed-migrations FOLDER OUTPUT FILE...: writes OUTPUT, a Swift file that holds each FILE under FOLDER by its
// path, as the store's `EmbeddedMigrations.files`. Run by the EmbedMigrations build plugin.
let arguments = CommandLine.arguments.dropFirst()
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: parley-embed-migrations FOLDER OUTPUT FILE...\n".utf8))
    exit(2)
}
let folder = URL(fileURLWithPath: arguments[arguments.startIndex])
let output = URL(fileURLWithPath: arguments[arguments.startIndex + 1])
var source = """
    // Generated from migrations/ by the EmbedMigrations build plugin.

    enum EmbeddedMigrations {
        /// Each SQL file of `migrations/`, by its path in that folder.
        static let files: [String: String] = [

    """
for path in arguments.dropFirst(2) {
    let sql = try String(contentsOf: folder.appending(path: path), encoding: .utf8)
    // `String(reflecting:)` writes a Swift string literal, with every quote, backslash and newline escaped.
    source += "        \(String(reflecting: path)): \(String(reflecting: sql)),\n"
}
source += "    ]\n}\n"
try source.write(to: output, atomically: true, encoding: .utf8)
