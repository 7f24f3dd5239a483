//! Numbers for people: metric values and differences at four decimals, with integer work
//! only, because a report with 100,000 checks formats a few hundred thousand numbers.

use std::fmt::Write as _;

use crate::gate::TOLERANCE;

/// A metric value for people: four decimals.
pub fn f4(v: f64) -> String {
    let mut s = String::with_capacity(8);
    push_num(&mut s, v);
    s
}

/// A signed difference for people: `+0.0100`, `-0.0140`, `±0.0000`.
pub fn signed4(v: f64) -> String {
    let mut s = String::with_capacity(8);
    push_signed(&mut s, v);
    s
}

/// Appends `v` at four decimals.
pub(crate) fn push_num(s: &mut String, v: f64) {
    push_f4(s, ten_thousandths(v), "-", "");
}

/// Appends `v` at four decimals with its sign; a change that rounds to nothing gets no
/// direction (`-0.0000` would read as a drop).
pub(crate) fn push_signed(s: &mut String, v: f64) {
    let parts = ten_thousandths(v);
    let zero = parts.1 == 0 && parts.2 == 0;
    push_f4(s, parts, "-", if zero { "±" } else { "+" });
}

/// Appends `a`, `op` and `b`: at four decimals, or at full precision when four decimals would
/// show them equal although the comparison told them apart ("0.7000 < min 0.7000").
pub(crate) fn push_pair(s: &mut String, a: f64, op: &str, b: f64) {
    if same_at_four(a, b) {
        let _ = write!(s, "{a}{op}{b}");
    } else {
        push_num(s, a);
        s.push_str(op);
        push_num(s, b);
    }
}

/// Whether `a` and `b` print the same at four decimals although they differ by more than the
/// gate's tolerance.
pub(crate) fn same_at_four(a: f64, b: f64) -> bool {
    ten_thousandths(a) == ten_thousandths(b) && (a - b).abs() > TOLERANCE
}

/// A fraction as a signed percentage with two decimals: `-1.87%`.
pub(crate) fn pct(v: f64) -> String {
    format!("{:+.2}%", v * 100.0)
}

/// The minus sign of percentage points: U+2212, which reads as a minus where a hyphen
/// would read as a dash.
pub const MINUS: char = '\u{2212}';

/// A metric value in percentage points, one decimal: 0.4834 is `48.3`.
pub fn pt(v: f64) -> String {
    let (negative, tenths) = tenths(v * 100.0);
    let mut s = String::with_capacity(6);
    if negative {
        s.push(MINUS);
    }
    push_tenths(&mut s, tenths);
    s
}

/// A difference of metric values in percentage points, signed: `−2.9 pt`, `+0.2 pt`, and
/// `±0.0 pt` when it rounds to nothing.
pub fn pt_delta(v: f64) -> String {
    signed_tenths(v * 100.0, " pt")
}

/// A fraction as a signed percentage with one decimal: `−6.0%` (relative changes).
pub fn pct_delta(v: f64) -> String {
    signed_tenths(v * 100.0, "%")
}

/// A fraction as a percentage with one decimal: `2.0%` (relative thresholds).
pub fn pct1(v: f64) -> String {
    let mut s = pt(v);
    s.push('%');
    s
}

/// Two values in percentage points, at one decimal, or with as many more (up to six) as it
/// takes to show them apart: `69.99 < 70.00`, never `70.0 < 70.0`.
pub fn pt_apart(a: f64, b: f64) -> (String, String) {
    let (x, y) = (pt(a), pt(b));
    if x != y || (a - b).abs() <= TOLERANCE {
        return (x, y);
    }
    let at = |v: f64, d: usize| format!("{:.d$}", v * 100.0).replace('-', "\u{2212}");
    for d in 2..6 {
        let (x, y) = (at(a, d), at(b, d));
        if x != y {
            return (x, y);
        }
    }
    (at(a, 6), at(b, 6))
}

fn signed_tenths(v: f64, unit: &str) -> String {
    let (negative, tenths) = tenths(v);
    let mut s = String::with_capacity(10);
    s.push(match (negative, tenths) {
        (_, 0) => '±',
        (true, _) => MINUS,
        (false, _) => '+',
    });
    push_tenths(&mut s, tenths);
    s.push_str(unit);
    s
}

/// `v` rounded to one decimal, as sign and tenths; non-finite values show as 0.
fn tenths(v: f64) -> (bool, u64) {
    if !v.is_finite() || v.abs() >= 1e15 {
        return (false, 0);
    }
    let t = (v.abs() * 10.0).round() as u64;
    (v < 0.0 && t > 0, t)
}

fn push_tenths(s: &mut String, tenths: u64) {
    let _ = write!(s, "{}.{}", tenths / 10, tenths % 10);
}

/// Writes `units.frac` (four digits) after the sign.
fn push_f4(s: &mut String, (negative, mut units, frac): (bool, u64, u64), minus: &str, plus: &str) {
    s.push_str(if negative { minus } else { plus });
    let mut buf = [0u8; 25];
    let mut i = buf.len() - 5;
    buf[i] = b'.';
    for (k, d) in [frac / 1000, frac / 100 % 10, frac / 10 % 10, frac % 10]
        .into_iter()
        .enumerate()
    {
        buf[i + 1 + k] = b'0' + d as u8;
    }
    loop {
        i -= 1;
        buf[i] = b'0' + (units % 10) as u8;
        units /= 10;
        if units == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&buf[i..]).expect("ASCII digits"));
}

/// `v` rounded to four decimals, as sign, whole part and ten-thousandths.
fn ten_thousandths(v: f64) -> (bool, u64, u64) {
    if !v.is_finite() || v.abs() >= 1e12 {
        return (false, 0, 0);
    }
    let scaled = (v.abs() * 10_000.0).round() as u64;
    (v < 0.0 && scaled > 0, scaled / 10_000, scaled % 10_000)
}

#[cfg(test)]
mod tests {
    use super::{f4, pct_delta, pct1, pt, pt_apart, pt_delta, signed4};

    #[test]
    fn percentage_points() {
        assert_eq!(pt(0.4834), "48.3");
        assert_eq!(pt(0.7), "70.0");
        assert_eq!(pt(1.0), "100.0");
        assert_eq!(pt(0.0), "0.0");
        assert_eq!(pt(0.00049), "0.0");
        assert_eq!(pt(0.9995), "100.0");
        assert_eq!(pt_delta(0.454 - 0.483), "\u{2212}2.9 pt");
        assert_eq!(pt_delta(0.002), "+0.2 pt");
        assert_eq!(pt_delta(-0.0004), "±0.0 pt");
        assert_eq!(pt_delta(0.0), "±0.0 pt");
        assert_eq!(pct_delta(-0.06), "\u{2212}6.0%");
        assert_eq!(pct1(0.02), "2.0%");
        assert_eq!(pt(f64::NAN), "0.0");
        assert_eq!(pt_apart(0.6999, 0.7), ("69.99".into(), "70.00".into()));
        assert_eq!(
            pt_apart(0.7, 0.7000000000001),
            ("70.0".into(), "70.0".into())
        );
        assert_eq!(pt_apart(0.483, 0.454), ("48.3".into(), "45.4".into()));
    }

    #[test]
    fn four_decimals() {
        assert_eq!(f4(0.7), "0.7000");
        assert_eq!(f4(0.12345), "0.1235");
        assert_eq!(f4(1.0), "1.0000");
        assert_eq!(f4(0.0), "0.0000");
        assert_eq!(f4(-0.014), "-0.0140");
        assert_eq!(signed4(0.01), "+0.0100");
        assert_eq!(signed4(-0.0790), "-0.0790");
        assert_eq!(signed4(-0.00004), "±0.0000");
        assert_eq!(signed4(-1.5), "-1.5000");
    }
}
