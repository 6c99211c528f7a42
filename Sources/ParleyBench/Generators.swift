import Foundation

/// A load generator in a child process (`parley-bench hold` or `parley-bench storm-client`): a process may hold
/// at most 20000 open files, so a load of tens of thousands of connections is spread over several. It talks in
/// lines: it prints `ready` once its connections are up, takes commands on its standard input, and ends when that
/// closes.
final class ChildGenerator: Sendable {
    let process: Process
    private let input: FileHandle
    private let output: Int32

    init(executable: String, arguments: [String]) throws {
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        self.process = process
        self.input = input.fileHandleForWriting
        self.output = output.fileHandleForReading.fileDescriptor
    }

    /// The next line the child prints; throws once it has exited.
    func line() async throws -> String {
        let fd = output
        let pid = process.processIdentifier
        return try await Task.detached {
            var bytes: [UInt8] = []
            var byte: UInt8 = 0
            while read(fd, &byte, 1) == 1 {
                if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
                bytes.append(byte)
            }
            throw BenchError("load generator \(pid) exited")
        }.value
    }

    /// Waits for a line that starts with `prefix`, passing over others.
    func line(startingWith prefix: String) async throws -> String {
        while true {
            let line = try await line()
            if line.hasPrefix(prefix) { return line }
        }
    }

    func send(_ line: String) {
        try? input.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Closes its input, which ends it, and waits for it to exit.
    func stop() {
        try? input.close()
        process.waitUntilExit()
    }

    /// Starts `count` connections' worth of children, at most `perProcess` each; `arguments` gets each one's first
    /// index and count.
    static func spread(
        _ count: Int, from first: Int = 0, perProcess: Int, executable: String, arguments: (_ from: Int, _ count: Int) -> [String]
    ) throws -> [ChildGenerator] {
        var children: [ChildGenerator] = []
        for offset in stride(from: 0, to: count, by: perProcess) {
            let size = min(perProcess, count - offset)
            children.append(try ChildGenerator(executable: executable, arguments: arguments(first + offset, size)))
        }
        return children
    }
}

/// Lines of a file: the tokens or rooms a child generator uses, by index.
func writeLines(_ lines: [String], prefix: String) throws -> String {
    let path = NSTemporaryDirectory() + "parley-\(prefix)-\(UUID().uuidString).txt"
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

func readLines(_ path: String) throws -> [String] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
}

/// Returns once standard input closes: how a child generator learns that its run is over. The wait blocks a
/// thread of its own, not one of the concurrency pool's.
func untilInputCloses() async {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            while readLine() != nil {}
            continuation.resume()
        }
    }
}

/// A line to the parent of a child generator, written at once.
func tellParent(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
