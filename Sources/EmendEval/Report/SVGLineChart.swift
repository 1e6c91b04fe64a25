// A line chart as a self-contained SVG string: axes with "nice" ticks (1, 2, 5 × 10^k), axis labels, one polyline
// and one circle per data point for each series (each circle carries a <title> tooltip, so the values can be read
// without scripts), an optional dashed reference line, and a legend. No scripts, no external resources.

import Foundation

/// One line of a chart.
public struct ChartSeries: Sendable, Equatable {
    public var name: String
    /// (x, y) in data units; drawn in the order given. Non-finite points are skipped.
    public var points: [ChartPoint]
    /// A CSS colour.
    public var color: String
    public var dashed: Bool
    /// Stroke width in px (the average of several series is drawn thicker).
    public var lineWidth: Double

    public init(name: String, points: [ChartPoint], color: String, dashed: Bool = false, lineWidth: Double = 1.75) {
        self.name = name; self.points = points; self.color = color; self.dashed = dashed; self.lineWidth = lineWidth
    }
}

public struct ChartPoint: Sendable, Equatable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// A line chart rendered to SVG.
public struct SVGLineChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [ChartSeries]
    /// Fixed y bounds (e.g. 0…100 for percentages); nil: from the data.
    public var yRange: ClosedRange<Double>?
    /// The x extent to show at least (e.g. 0…planned edits, so a run in progress fills its axis); nil: the data's.
    public var xRange: ClosedRange<Double>?
    /// A dashed horizontal line, e.g. y = 1 for norms relative to the original.
    public var reference: (y: Double, label: String)?
    public var width: Double = 720
    public var height: Double = 340
    /// Shown in place of the lines when there is no data point.
    public var emptyMessage = "no data yet"

    public init(title: String, xLabel: String, yLabel: String, series: [ChartSeries], yRange: ClosedRange<Double>? = nil,
                xRange: ClosedRange<Double>? = nil, reference: (y: Double, label: String)? = nil) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
        self.yRange = yRange; self.xRange = xRange; self.reference = reference
    }

    /// The standard ten-colour palette (colour-blind friendly ordering).
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    // MARK: - Rendering

    public func svg() -> String {
        let left = 64.0, right = 170.0, top = 34.0, bottom = 50.0
        let plotW = width - left - right, plotH = height - top - bottom
        let pts = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(f(width))\" height=\"\(f(height))\" "
            + "viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(xmlEscaped(title))\">\n"
        out += "<title>\(xmlEscaped(title))</title>\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"#ffffff\"/>\n"
        out += "<text class=\"chart-title\" x=\"\(f(left))\" y=\"20\" font-size=\"15\" font-weight=\"600\">\(xmlEscaped(title))</text>\n"
        guard !pts.isEmpty else {
            out += "<text class=\"no-data\" x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" fill=\"#777\">\(xmlEscaped(emptyMessage))</text>\n</svg>"
            return out
        }
        var xs = (pts.map(\.x).min()!, pts.map(\.x).max()!)
        if let r = xRange { xs = (min(xs.0, r.lowerBound), max(xs.1, r.upperBound)) }
        var ys = yRange.map { ($0.lowerBound, $0.upperBound) } ?? (pts.map(\.y).min()!, pts.map(\.y).max()!)
        if let r = reference, yRange == nil { ys = (min(ys.0, r.y), max(ys.1, r.y)) }
        if xs.0 == xs.1 { xs = (xs.0 - 1, xs.1 + 1) }
        if ys.0 == ys.1 { let pad = ys.0 == 0 ? 1 : abs(ys.0) * 0.05; ys = (ys.0 - pad, ys.1 + pad) }
        let xTicks = Self.niceTicks(xs.0, xs.1), yTicks = yRange == nil ? Self.niceTicks(ys.0, ys.1) : Self.niceTicks(ys.0, ys.1, exact: true)
        let x0 = min(xs.0, xTicks.first ?? xs.0), x1 = max(xs.1, xTicks.last ?? xs.1)
        let y0 = min(ys.0, yTicks.first ?? ys.0), y1 = max(ys.1, yTicks.last ?? ys.1)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + plotH - (y - y0) / (y1 - y0) * plotH }

        // Grid and axes.
        out += "<g class=\"grid\" stroke=\"#e5e5e5\" stroke-width=\"1\">\n"
        for t in yTicks { out += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(t)))\"/>\n" }
        out += "</g>\n<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\">\n"
        out += "<line class=\"x-axis\" x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\"/>\n"
        out += "<line class=\"y-axis\" x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\"/>\n</g>\n"
        out += "<g class=\"ticks\" font-size=\"11\" fill=\"#333\">\n"
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1, yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        for t in xTicks {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top + plotH))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + plotH + 4))\" stroke=\"#333\"/>"
            out += "<text class=\"x-tick\" x=\"\(f(px(t)))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">\(Self.tickLabel(t, step: xStep))</text>\n"
        }
        for t in yTicks {
            out += "<text class=\"y-tick\" x=\"\(f(left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(Self.tickLabel(t, step: yStep))</text>\n"
        }
        out += "</g>\n"
        out += "<text class=\"axis-label x-label\" x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\" font-size=\"12\">\(xmlEscaped(xLabel))</text>\n"
        out += "<text class=\"axis-label y-label\" x=\"14\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" font-size=\"12\" "
            + "transform=\"rotate(-90 14 \(f(top + plotH / 2)))\">\(xmlEscaped(yLabel))</text>\n"

        if let r = reference, r.y >= y0, r.y <= y1 {
            out += "<g class=\"reference\"><line x1=\"\(f(left))\" y1=\"\(f(py(r.y)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(r.y)))\" "
                + "stroke=\"#555\" stroke-dasharray=\"2 3\"/><text x=\"\(f(left + plotW - 4))\" y=\"\(f(py(r.y) - 4))\" text-anchor=\"end\" "
                + "font-size=\"10\" fill=\"#555\">\(xmlEscaped(r.label))</text></g>\n"
        }

        // Series: a polyline, then a circle (with a tooltip) per point.
        for s in series {
            let ok = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            guard !ok.isEmpty else { continue }
            out += "<g class=\"series\" data-series=\"\(xmlEscaped(s.name))\">\n"
            let coords = ok.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"\(f(s.lineWidth))\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(coords)\"/>\n"
            let r = ok.count > 60 ? 1.6 : 3.0
            for p in ok {
                out += "<circle class=\"point\" cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(f(r))\" fill=\"\(s.color)\">"
                    + "<title>\(xmlEscaped(s.name)): \(Self.tickLabel(p.x, step: 1)) → \(Self.valueLabel(p.y))</title></circle>\n"
            }
            out += "</g>\n"
        }

        // Legend, right of the plot.
        out += "<g class=\"legend\" font-size=\"11\">\n"
        for (i, s) in series.enumerated() {
            let y = top + 8 + Double(i) * 17
            out += "<line x1=\"\(f(left + plotW + 14))\" y1=\"\(f(y))\" x2=\"\(f(left + plotW + 36))\" y2=\"\(f(y))\" stroke=\"\(s.color)\" "
                + "stroke-width=\"\(f(s.lineWidth))\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
            out += "<text x=\"\(f(left + plotW + 42))\" y=\"\(f(y + 4))\">\(xmlEscaped(s.name))</text>\n"
        }
        out += "</g>\n</svg>"
        return out
    }

    // MARK: - Ticks

    /// About `target` ticks covering lo…hi at a step of 1, 2 or 5 × 10^k; with `exact`, lo and hi themselves are
    /// the outer bounds (ticks never leave them).
    static func niceTicks(_ lo: Double, _ hi: Double, target: Int = 5, exact: Bool = false) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(target)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        let first = exact ? ceil(lo / step - 1e-9) * step : floor(lo / step + 1e-9) * step
        let last = exact ? floor(hi / step + 1e-9) * step : ceil(hi / step - 1e-9) * step
        var ticks: [Double] = []
        var t = first
        while t <= last + step * 1e-6, ticks.count < 50 { ticks.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return ticks
    }

    /// A tick label with as many decimals as the step needs; thousands without separators.
    static func tickLabel(_ v: Double, step: Double) -> String {
        let decimals = step >= 1 ? 0 : min(6, Int(ceil(-log10(step) - 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }

    /// A value for a tooltip: 4 significant digits.
    static func valueLabel(_ v: Double) -> String { String(format: "%.4g", v) }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// Text safe inside XML/HTML elements and attribute values.
public func xmlEscaped(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
