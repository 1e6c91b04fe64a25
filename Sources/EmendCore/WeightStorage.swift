// How a weight matrix's elements are stored: Float32, the two 16-bit floats, or ggml's quantised blocks, and the
// shared byte buffer that holds them (owned, or a slice of a memory-mapped model file).
//
// Layout: W [Out, In] row-major; each row is In / blockSize blocks of bytesPerBlock bytes, rows contiguous. The block
// formats are ggml's (the file format's, documented in CEmendKernels/emend_quant.c); the C kernels dequantise them.
// EmendCore knows only the layout; the GGUF type ids are mapped to it in EmendModels.

import CEmendKernels

/// A stored element type of a weight matrix. The raw value is the kernels' type id (ggml's numbering).
public enum WeightStorage: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13,
         q6_K = 14, bf16 = 30

    /// Elements per block: 1 for the plain floats, 32 for the legacy quants, 256 for the k-quants.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return 256
        }
    }

    /// Bytes per block.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        }
    }

    /// Bytes of one row of `inputs` elements, or nil when `inputs` is not a whole number of blocks.
    public func rowBytes(_ inputs: Int) -> Int? {
        inputs >= 0 && inputs % blockSize == 0 ? inputs / blockSize * bytesPerBlock : nil
    }

    /// ggml's name ("Q4_K", "BF16", …).
    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        }
    }
}

/// Read-only bytes shared by every copy of a weight matrix: an owned copy, or a view into memory another object
/// keeps alive (a memory-mapped file), so a matrix loaded from a model file costs no copy.
public final class WeightBytes: @unchecked Sendable {
    /// The bytes; valid while this object lives.
    public let bytes: UnsafeRawBufferPointer
    private let owner: (any AnyObject & Sendable)?
    private let allocation: UnsafeMutableRawBufferPointer?

    /// A copy of `bytes` (64-byte aligned).
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(adopting: Self.copied(bytes), count: bytes.count)
    }

    /// A copy of `bytes`.
    public convenience init(_ bytes: [UInt8]) {
        self.init(adopting: bytes.withUnsafeBytes(Self.copied), count: bytes.count)
    }

    /// `count` new bytes (64-byte aligned) written by `fill`.
    public convenience init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
        fill(UnsafeMutableRawBufferPointer(rebasing: a[0..<count]))
        self.init(adopting: a, count: count)
    }

    /// A new 64-byte-aligned allocation holding `src` (at least one byte, so its address is never nil).
    private static func copied(_ src: UnsafeRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: max(src.count, 1), alignment: 64)
        if let base = src.baseAddress, src.count > 0 { a.baseAddress!.copyMemory(from: base, byteCount: src.count) }
        return a
    }

    /// Takes ownership of `allocation`, whose first `count` bytes are the data.
    private init(adopting allocation: UnsafeMutableRawBufferPointer, count: Int) {
        self.allocation = allocation
        owner = nil
        bytes = UnsafeRawBufferPointer(start: allocation.baseAddress, count: count)
    }

    /// A view of `bytes`, which stay valid as long as `owner` lives (this object keeps it alive).
    public init(viewing bytes: UnsafeRawBufferPointer, owner: any AnyObject & Sendable) {
        self.bytes = bytes
        self.owner = owner
        allocation = nil
    }

    deinit { allocation?.deallocate() }
}

/// Dequantises `blocks` consecutive blocks of `storage` at `source` into Float32 at `destination`
/// (blocks · blockSize elements), in parallel over blocks. Bit-exact with ggml's dequantize_row_*.
public func dequantizeBlocks(_ storage: WeightStorage, _ source: UnsafeRawPointer, blocks: Int,
                             into destination: UnsafeMutablePointer<Float>) {
    let bs = storage.blockSize, src = SendableConstPointer(source.assumingMemoryBound(to: UInt8.self))
    let dst = SendablePointer(destination)
    // One block per "row" of the kernel, so any block range is a row range.
    parallelRanges(blocks, grain: max(1, 65_536 / bs)) { r in
        _ = emend_quant_dequantize(storage.rawValue, src.base, bs, r.lowerBound, r.upperBound, 0, bs,
                                   dst.base + r.lowerBound * bs, bs)
    }
}
