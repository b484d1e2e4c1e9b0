// The config file: found (--config, else the default path), read with limits, parsed; one line
// and exit 78 when it is wrong.
import CaptureConfig
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
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if !mustExist && errno == ENOENT { return nil }
            throw Failure("--config \(path): \(String(cString: strerror(errno)))", code: .config)
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
