// Classification scores as the glue_eval harness computes them with scikit-learn: accuracy, weighted F1
// (`f1_score(average='weighted')`) and the Matthews correlation (`matthews_corrcoef`, multiclass form).
// Predictions may be −1 ("invalid": the generation named no label word); −1 is then one more class that
// never occurs among the true labels, so it counts against recall and weighs nothing in the F1 average.
//
//   weighted F1 = Σ_c (n_c / n) · F1_c over the classes c of the true labels and predictions,
//                 n_c the true count of c; F1_c = 2·tp / (2·tp + fp + fn), 0 when 2·tp + fp + fn = 0
//   MCC         = (c·s − Σ_k p_k·t_k) / √((s² − Σ_k p_k²)(s² − Σ_k t_k²)), c correct, s total,
//                 t_k true count and p_k predicted count of class k; 0 when the denominator is 0 (sklearn)

import Foundation

public enum ClassificationMetrics {
    /// Fraction of predictions equal to the label (invalid predictions are wrong).
    public static func accuracy(labels: [Int], predictions: [Int]) -> Double {
        guard !labels.isEmpty, labels.count == predictions.count else { return 0 }
        return Double(zip(labels, predictions).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// Support-weighted mean of per-class F1 over the union of label and prediction classes.
    public static func weightedF1(labels: [Int], predictions: [Int]) -> Double {
        guard !labels.isEmpty, labels.count == predictions.count else { return 0 }
        let classes = Set(labels).union(predictions)
        var total = 0.0
        for c in classes {
            var tp = 0, fp = 0, fn = 0, support = 0
            for (y, p) in zip(labels, predictions) {
                if y == c { support += 1 }
                if y == c && p == c { tp += 1 } else if p == c { fp += 1 } else if y == c { fn += 1 }
            }
            let denom = 2 * tp + fp + fn
            let f1 = denom == 0 ? 0 : Double(2 * tp) / Double(denom)
            total += Double(support) * f1
        }
        return total / Double(labels.count)
    }

    /// Matthews correlation coefficient, multiclass (Gorodkin's R_K), as `sklearn.metrics.matthews_corrcoef`.
    public static func mcc(labels: [Int], predictions: [Int]) -> Double {
        guard !labels.isEmpty, labels.count == predictions.count else { return 0 }
        let classes = Array(Set(labels).union(predictions))
        var t: [Int: Double] = [:], p: [Int: Double] = [:]
        var correct = 0.0
        for (y, q) in zip(labels, predictions) {
            t[y, default: 0] += 1; p[q, default: 0] += 1
            if y == q { correct += 1 }
        }
        let s = Double(labels.count)
        let pt = classes.reduce(0.0) { $0 + (p[$1] ?? 0) * (t[$1] ?? 0) }
        let pp = classes.reduce(0.0) { $0 + (p[$1] ?? 0) * (p[$1] ?? 0) }
        let tt = classes.reduce(0.0) { $0 + (t[$1] ?? 0) * (t[$1] ?? 0) }
        let denom = ((s * s - pp) * (s * s - tt)).squareRoot()
        return denom == 0 ? 0 : (correct * s - pt) / denom
    }
}
