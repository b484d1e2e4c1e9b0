// The config file: found (--config, else the default path), read with limits, parsed; one line
// and exit 78 when it is wrong.
import CaptureConfig
import CaptureCore
import Glibc

/// Loads the config file named by --config, or the default one if it exists.
public enum ConfigFile {
    public static func load(_ named: String?) throws -> CapdeckConfig? {
        let path = named ?? ConfigLoader.defaultPath(environment: Environment.current)
        guard let text = try readText(path, mustExist: named != nil) else { return nil }
        do throws(ConfigError) {
            return try ConfigLoader.parse(text, path: path)
        } catch {
            throw Failure(error.description, code: .config)
        }
    }

    /// The config file's text (a regular file of at most 1 MiB, UTF-8); nil if it doesn't exist
    /// and need not.
    public static func readText(_ path: String, mustExist: Bool) throws -> String? {
        let fd: Int32
        do throws(Errno) { fd = try valueOrErrno { open(path, O_RDONLY | O_CLOEXEC) } } catch {
            if !mustExist && error == .notFound { return nil }
            throw Failure("--config \(path): \(error)", code: .config)
        }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        if (st.st_mode & S_IFMT) != S_IFREG { throw Failure("--config \(path): not a regular file", code: .config) }
        if st.st_size > 1 << 20 { throw Failure("--config \(path): larger than 1 MiB; not a config file", code: .config) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw Failure("--config \(path): could not read", code: .config) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Failure("\(path): not UTF-8 text", code: .config)
        }
        return text
    }
}
