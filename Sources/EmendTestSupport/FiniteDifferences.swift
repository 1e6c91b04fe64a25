// Central finite differences in Float64, the independent truth every gradient test compares with.
//
// With step h, (f(x + h·e_i) − f(x − h·e_i)) / 2h has truncation error O(h²·f‴) and rounding
// error O(ε·|f| / h); h = 1e-5 keeps both near 1e-10 for the O(1) functions in the tests.

import EmendCore

/// ∂f/∂inputs[k] at `inputs`, one central difference per element of `inputs[k]`.
public func centralDifferenceGradient(of f: ([Naive64]) -> Double, at inputs: [Naive64], wrt k: Int,
                                      step h: Double = 1e-5) -> Naive64 {
    var grad = Naive64(shape: inputs[k].shape, values: [Double](repeating: 0, count: inputs[k].count))
    var probe = inputs
    for i in 0..<inputs[k].count {
        let x = inputs[k].values[i]
        probe[k].values[i] = x + h
        let up = f(probe)
        probe[k].values[i] = x - h
        let down = f(probe)
        probe[k].values[i] = x
        grad.values[i] = (up - down) / (2 * h)
    }
    return grad
}

/// The largest |a − b| over paired elements (equal infinities count as 0 apart), and where it is.
public func maxAbsDifference(_ a: [Double], _ b: [Double]) -> (value: Double, index: Int) {
    precondition(a.count == b.count, "maxAbsDifference: \(a.count) vs \(b.count) elements")
    var worst = 0.0, at = -1
    for i in a.indices {
        let d = (a[i] == b[i]) ? 0 : Swift.abs(a[i] - b[i])
        if d.isNaN || d > worst { worst = d.isNaN ? .infinity : d; at = i }
    }
    return (worst, at)
}

/// The first few pairs as "i: got vs want" lines, for failure messages (STYLE rule 17).
public func firstPairs(_ got: [Double], _ want: [Double], count n: Int = 4) -> String {
    (0..<Swift.min(n, got.count)).map { "[\($0)] \(got[$0]) vs \(want[$0])" }.joined(separator: ", ")
}
