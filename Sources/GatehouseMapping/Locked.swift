#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex, held by a class instance. (A `Mutex` in a global kept its
/// contents where LeakSanitizer did not look, and every cached entry showed as a leak at exit.)
final class Locked<Value>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var value: Value

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&value)
    }
}
