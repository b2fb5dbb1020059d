import GRDB

extension SMFDatabase {
    /// Runs `body` in one write transaction, synchronously on the calling thread; durable when it returns
    /// (`synchronous = FULL`). For the stores whose callers acknowledge right after (alarms, the service runtime).
    func writeNow(_ body: (Database) throws -> Void) throws(StorageError) {
        do {
            try writer.write(body)
        } catch {
            throw StorageError(error, database: name)
        }
    }

    /// Runs `body` in a read transaction, synchronously on the calling thread.
    func readNow<T>(_ body: (Database) throws -> T) throws(StorageError) -> T {
        do {
            return try writer.read(body)
        } catch {
            throw StorageError(error, database: name)
        }
    }
}
