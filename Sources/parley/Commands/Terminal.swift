import Foundation
import NIOPosix
import Synchronization

/// What `chat` reads from its user: keystrokes on a terminal, lines from a pipe.
enum Keyboard {
    /// A key that changes the line being typed (the other side hears that the user types).
    case typing
    case line(String)
    /// End of input: Ctrl-D on an empty line, or the pipe's end.
    case end
}

/// The terminal `chat` runs in: in raw mode while it types for the user, so that it sees each key and can print
/// incoming messages above the line being typed. Standard input that is no terminal is read a line at a time.
final class Terminal: Sendable {
    private struct Screen {
        var prompt = ""
        var line: [UInt8] = []
    }

    let isInteractive = isatty(STDIN_FILENO) == 1
    private let screen = Mutex(Screen())
    // The settings to restore at exit, kept where a signal handler can reach them.
    nonisolated(unsafe) private static var saved = termios()

    init(prompt: String) {
        screen.withLock { $0.prompt = prompt }
    }

    /// Raw mode (no echo, no line editing) until `restore`; Ctrl-C still interrupts, and restores the terminal first.
    func enterRawMode() {
        guard isInteractive, tcgetattr(STDIN_FILENO, &Self.saved) == 0 else { return }
        var raw = Self.saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        signal(SIGINT) { _ in
            tcsetattr(STDIN_FILENO, TCSANOW, &Terminal.saved)
            _exit(130)
        }
        write(screen.withLock { $0.prompt })
    }

    func restore() {
        guard isInteractive else { return }
        tcsetattr(STDIN_FILENO, TCSANOW, &Self.saved)
        write("\r\n")
    }

    /// Prints a line above the one being typed, which is drawn again below it.
    func show(_ text: String) {
        guard isInteractive else { return write(text + "\n") }
        let (prompt, line) = screen.withLock { ($0.prompt, String(decoding: $0.line, as: UTF8.self)) }
        write("\r\u{1b}[K" + text + "\r\n" + prompt + line)
    }

    /// The next thing the user did. Reads block, so they run on NIO's thread pool, never on Swift's.
    func next() async throws -> Keyboard {
        guard isInteractive else {
            let line = try await NIOThreadPool.singleton.runIfActive { readLine(strippingNewline: true) }
            return line.map(Keyboard.line) ?? .end
        }
        while true {
            let byte = try await NIOThreadPool.singleton.runIfActive { getchar() }
            guard byte != EOF else { return .end }
            if let key = key(UInt8(truncatingIfNeeded: byte)) { return key }
        }
    }

    /// Edits the line with one byte, echoing it; what it amounts to for the caller, if anything.
    private func key(_ byte: UInt8) -> Keyboard? {
        switch byte {
        case 0x0A, 0x0D:
            let (prompt, line) = screen.withLock { screen in
                defer { screen.line = [] }
                return (screen.prompt, String(decoding: screen.line, as: UTF8.self))
            }
            // The line goes; the message comes back from the server as everyone sees it.
            write("\r\u{1b}[K" + prompt)
            return .line(line)
        case 0x04:
            return screen.withLock { $0.line.isEmpty } ? .end : nil
        case 0x7F, 0x08:
            let erased = screen.withLock { screen -> Bool in
                // A whole UTF-8 character: its continuation bytes, then its first.
                while let last = screen.line.popLast() {
                    if last & 0xC0 != 0x80 { return true }
                }
                return false
            }
            if erased { write("\u{8} \u{8}") }
            return erased ? .typing : nil
        case 0x00..<0x20:
            return nil
        default:
            screen.withLock { $0.line.append(byte) }
            FileHandle.standardOutput.write(Data([byte]))
            return .typing
        }
    }

    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
