import Synchronization
import Testing

@testable import ParleyStore

@Suite("The batcher behind group commit")
struct BatcherTests {
    @Test("calls that arrive while a batch runs go together in the next, up to the size limit, each with its own result")
    func batching() async throws {
        let batcher = Batcher<Int, Int>(concurrency: 1, maxSize: 10)
        let sizes = Mutex<[Int]>([])
        let run: Batcher<Int, Int>.Run = { requests in
            sizes.withLock { $0.append(requests.count) }
            // Long enough for every other call to arrive while the first batch runs. The batcher shows no sign of the
            // calls that wait in it, and a count taken before each call could be read before its call is in.
            try? await Task.sleep(for: .milliseconds(200))
            return requests.map { $0.isMultiple(of: 7) ? .failure(Odd()) : .success($0 * 2) }
        }
        let results = await withTaskGroup(of: (Int, Int?).self) { group in
            for n in 1...25 { group.addTask { (n, try? await batcher.submit(n, run: run)) } }
            return await group.reduce(into: []) { $0.append($1) }.sorted { $0.0 < $1.0 }
        }
        #expect(results.map(\.1) == (1...25).map { $0.isMultiple(of: 7) ? nil : $0 * 2 })
        let batches = sizes.withLock { $0 }
        #expect(batches.reduce(0, +) == 25)
        // The first batch takes what has arrived when it starts; everything else arrives while it runs and fills
        // batches of 10, the last with the rest.
        #expect(batches.dropFirst().dropLast().allSatisfy { $0 == 10 } && batches.allSatisfy { $0 <= 10 })
        #expect((3...4).contains(batches.count))
    }

    @Test("a call on an idle batcher runs at once and alone, in the caller's own task")
    func alone() async throws {
        let batcher = Batcher<String, String>(concurrency: 2, maxSize: 10)
        let caller = withUnsafeCurrentTask { $0?.hashValue }
        for word in ["one", "two"] {
            let result = try await batcher.submit(word) { requests in
                let task = withUnsafeCurrentTask { $0?.hashValue }
                return requests.map { .success("\($0.uppercased()) \(task == caller)") }
            }
            #expect(result == "\(word.uppercased()) true")
        }
    }

    struct Odd: Error {}
}
