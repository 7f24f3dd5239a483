//! Adjusted p-values for many checks at once.

/// How p-values are adjusted for the number of checks in a gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Correction {
    /// No adjustment: each check at the significance on its own.
    None,
    /// Holm's step-down (1979): controls the chance of any false failure (family-wise error),
    /// uniformly more powerful than Bonferroni.
    Holm,
    /// Benjamini–Hochberg (1995): controls the expected share of false failures among the
    /// failures (false discovery rate), for independent or positively dependent tests.
    BenjaminiHochberg,
}

/// Adjusted p-values, in the order given: a check is significant at level α when its adjusted
/// p-value is ≤ α.
///
/// Holm: the k-th smallest p-value of m becomes max over j ≤ k of (m − j + 1)·p₍ⱼ₎.
/// Benjamini–Hochberg: it becomes min over j ≥ k of m·p₍ⱼ₎ / j. Both are capped at 1. Ties get
/// the same adjusted value. A NaN counts as 1 (never significant).
pub fn adjust(p_values: &[f64], correction: Correction) -> Vec<f64> {
    let clean = |p: f64| if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) };
    let m = p_values.len();
    if correction == Correction::None {
        return p_values.iter().map(|&p| clean(p)).collect();
    }
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean(p_values[a]).total_cmp(&clean(p_values[b])));
    let mut adjusted = vec![0.0; m];
    match correction {
        Correction::Holm => {
            let mut running: f64 = 0.0;
            for (k, &i) in order.iter().enumerate() {
                running = running.max(((m - k) as f64 * clean(p_values[i])).min(1.0));
                adjusted[i] = running;
            }
        }
        Correction::BenjaminiHochberg => {
            let mut running: f64 = 1.0;
            for (k, &i) in order.iter().enumerate().rev() {
                running = running.min(m as f64 * clean(p_values[i]) / (k + 1) as f64);
                adjusted[i] = running;
            }
        }
        Correction::None => unreachable!("returned above"),
    }
    adjusted
}
