//! What one eval's data can detect.

use super::normal::normal_quantile;

/// The smallest drop a one-sided test at level `significance` detects with probability
/// `power`, given the bootstrap standard error of the metric on one eval ([`std_errors`]).
///
/// The paired difference has variance SE_b² + SE_c² − 2ρ·SE_b·SE_c. From one eval neither the
/// candidate's standard error nor the correlation ρ between the two models' per-image results is
/// known, so this assumes SE_c = SE_b and takes ρ as given: the drop is
/// (z₁₋α + z_power) · SE · √(2(1 − ρ)); ρ = 0 gives no credit for pairing. It is an
/// approximation, not a bound: it leaves out the noise the change itself adds (which objects a
/// candidate loses is random too), which matters when a drop is a handful of objects.
/// `significance` is the level one check is tested at: with Holm over m checks, the first
/// rejection needs `significance / m`. `None` unless 0 < significance < 1, 0 < power < 1 and
/// 0 ≤ ρ < 1.
///
/// [`std_errors`]: super::std_errors
pub fn min_detectable_drop(
    std_error: f64,
    significance: f64,
    power: f64,
    correlation: f64,
) -> Option<f64> {
    let open = |x: f64| x > 0.0 && x < 1.0;
    if !open(significance) || !open(power) || !(0.0..1.0).contains(&correlation) {
        return None;
    }
    if !(std_error >= 0.0 && std_error.is_finite()) {
        return None;
    }
    let z = -normal_quantile(significance) + normal_quantile(power);
    Some(z * std_error * (2.0 * (1.0 - correlation)).sqrt())
}
