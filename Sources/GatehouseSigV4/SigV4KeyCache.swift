// A small, thread-safe cache of derived signing keys (saves four HMACs per request).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex on the heap (portable to every platform the package lists, unlike `Mutex`).
final class SigV4Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// Derived signing keys by access key, date, region and service; bounded, cleared when full.
final class SigningKeyCache: @unchecked Sendable {
    private struct Key: Hashable {
        var accessKeyId: String
        var date: String
        var region: String
        var service: String
    }

    private struct Entry {
        var secret: String
        var signingKey: [UInt8]
    }

    private let capacity: Int
    private let lock = SigV4Lock()
    private var entries: [Key: Entry] = [:]  // guarded by `lock`

    init(capacity: Int = 1024) {
        self.capacity = capacity
    }

    func signingKey(accessKeyId: String, secretAccessKey: String, date: String, region: String, service: String) -> [UInt8] {
        let key = Key(accessKeyId: accessKeyId, date: date, region: region, service: service)
        let hit = lock.withLock { entries[key] }
        if let hit, hit.secret == secretAccessKey {
            return hit.signingKey
        }
        let derived = SigV4.signingKey(secretAccessKey: secretAccessKey, date: date, region: region, service: service)
        lock.withLock {
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(secret: secretAccessKey, signingKey: derived)
        }
        return derived
    }
}
