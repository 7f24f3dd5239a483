//! The JSON report. Its field names are a public contract (docs/reports.md): add fields,
//! never rename or remove them without bumping `schema_version`.
//!
//! Written by hand rather than through serde: a report of 120,000 checks is 42 MB, and a
//! serializer's per-token callbacks cost twice what writing the bytes does. The layout is
//! serde_json's pretty printing with two-space indents, except that each check (and each
//! waiver) is one compact line: 40% smaller, one check a line, and it still diffs line by
//! line. Strings are escaped as serde_json escapes them and numbers are serde_json's own
//! (shortest round-trip), so a reader gets exactly the values the gate compared.

use std::io;
use std::sync::mpsc;

use serde_json::ser::{CompactFormatter, Formatter};

use super::output::Output;
use super::{EvalInfo, ReportContext};
use crate::gate::{Check, GateReport, Status};
use crate::model::OperatingPoint;
use crate::stats::Correction;

pub(super) fn render(
    report: &GateReport,
    ctx: &ReportContext,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let s = &report.summary;
    let mut w = Writer::new(out);
    w.object(|w| {
        w.field("schema_version", 1u32);
        w.field("verdict", report.verdict.name());
        w.field("exit_code", ctx.exit_code);
        w.field("strict", report.strict);
        w.field("policy", ctx.policy.as_str());
        w.key("operating_point");
        match &report.operating_point {
            Some(used) => w.object(|w| {
                match used.point {
                    OperatingPoint::Confidence(p) => w.field("confidence", p.fraction()),
                    OperatingPoint::Optimal => w.field("confidence", Name("optimal")),
                }
                w.key("baseline");
                match &used.baseline {
                    Some(b) => confidences(w, b),
                    None => w.value(()),
                }
                w.key("candidate");
                confidences(w, &used.candidate);
            }),
            None => w.value(()),
        }
        if let Some(st) = &report.statistics {
            w.key("statistics");
            w.object(|w| {
                w.field("significance", st.significance);
                w.field(
                    "correction",
                    Name(match st.correction {
                        Correction::Holm => "holm",
                        Correction::BenjaminiHochberg => "bh",
                        Correction::None => "none",
                    }),
                );
                w.field("resamples", st.resamples);
                w.field("seed", st.seed);
            });
        }
        w.key("baseline");
        match &ctx.baseline {
            Some(info) => eval(w, info),
            None => w.value(()),
        }
        w.key("candidate");
        eval(w, &ctx.candidate);
        w.key("summary");
        w.object(|w| {
            w.field("total", s.total());
            w.field("pass", s.get(Status::Pass));
            w.field("fail", s.get(Status::Fail));
            w.field("warn", s.get(Status::Warn));
            w.field("skip", s.get(Status::Skip));
            w.field("waived", s.get(Status::Waived));
        });
        w.key("checks");
        checks(w, report);
        w.key("waivers");
        w.array(|w| {
            for v in &report.waivers {
                w.element();
                w.object(|w| {
                    w.field("scope", v.scope.as_str());
                    w.field("reason", v.reason.as_str());
                    w.field("until", Display(&v.until));
                    w.field("expired", v.expired);
                    w.field("matched", v.matched);
                    w.field("line", v.line);
                });
            }
        });
    });
    w.buf.push(b'\n');
    w.finish()
}

/// The checks, worst first (the one order every report shares), one line each.
///
/// Above [`BLOCK`] checks, a second thread renders every other block of them into a buffer
/// while this one renders the blocks between and writes them all in order: at 10,000 classes
/// the JSON is 42 MB, the largest part of a run. Two buffers go back and forth, so memory
/// stays at a few blocks whatever the report's size.
fn checks(w: &mut Writer<'_>, report: &GateReport) {
    checks_in_blocks(w, report, BLOCK);
}

fn checks_in_blocks(w: &mut Writer<'_>, report: &GateReport, size: usize) {
    let ranked = report.ranked();
    w.array(|w| {
        let mut scratch = Scratch::default();
        if ranked.len() <= size {
            block(w, report, &ranked, &mut scratch);
            return;
        }
        let (filled_tx, filled) = mpsc::sync_channel::<Vec<u8>>(1);
        let (empty, empty_rx) = mpsc::sync_channel::<Vec<u8>>(2);
        for _ in 0..2 {
            let _ = empty.send(Vec::new());
        }
        let depth = w.depth;
        std::thread::scope(|scope| {
            let ranked = &ranked;
            scope.spawn(move || {
                let mut scratch = Scratch::default();
                for checks in ranked.chunks(size).skip(1).step_by(2) {
                    let Ok(buf) = empty_rx.recv() else { return };
                    // Kept whole (never spilled), inside the list of checks, after the
                    // first block.
                    let mut sink = io::sink();
                    let mut other = Writer::with_buffer(&mut sink, buf, usize::MAX);
                    (other.depth, other.empty) = (depth, false);
                    block(&mut other, report, checks, &mut scratch);
                    if filled_tx.send(other.buf).is_err() {
                        return;
                    }
                }
            });
            for (i, checks) in ranked.chunks(size).enumerate() {
                if i % 2 == 0 {
                    block(w, report, checks, &mut scratch);
                } else if let Ok(mut buf) = filled.recv() {
                    w.raw(&buf);
                    buf.clear();
                    let _ = empty.send(buf);
                }
            }
        });
    });
}

/// Checks rendered by one thread before they are handed on.
const BLOCK: usize = 1024;

/// A thread's id and message buffers, reused for every check: a report never holds 120,000
/// of them at once.
#[derive(Default)]
struct Scratch {
    id: String,
    message: String,
}

fn block(w: &mut Writer<'_>, report: &GateReport, checks: &[&Check], scratch: &mut Scratch) {
    let Scratch { id, message } = scratch;
    for (i, &c) in checks.iter().enumerate() {
        if i % WARM == 0 {
            warm(checks.get(i + WARM..).unwrap_or_default().iter().take(WARM));
        }
        id.clear();
        c.write_id(id);
        message.clear();
        super::words::write_message(message, report, c);
        w.element();
        compact_object!(w,
            "id" => id.as_str(),
            "split" => &*c.split,
            "class" => c.class.as_deref(),
            "size" => c.size.map(|s| Name(s.name())),
            "metric" => c.measure().map(Name),
            "rule" => Name(c.rule.name()),
            "severity" => Name(c.severity.name()),
            "status" => Name(c.status.name()),
            "candidate" => c.candidate(),
            "baseline" => c.baseline(),
            "delta" => c.delta(),
            "threshold" => c.threshold(),
            "message" => message.as_str(),
            "line" => c.line(),
        );
        extras(w, report, c);
        w.spill();
    }
}

/// The members only some checks have, appended to the check's line: `predicted` for a
/// confusion check, `support` for every class check (`null` when unknown), `statistics` and
/// `evidence` for a noise-tested one. Checks without them keep the line they always had.
fn extras(w: &mut Writer<'_>, report: &GateReport, c: &Check) {
    let test = super::words::test_of(report, c);
    if c.class.is_none() && c.predicted().is_none() && test.is_none() {
        return;
    }
    // Reopen the object `compact_object!` closed.
    debug_assert_eq!(w.buf.last(), Some(&b'}'));
    w.buf.pop();
    let member = |w: &mut Writer<'_>, name: &str| {
        w.buf.extend_from_slice(b", \"");
        w.buf.extend_from_slice(name.as_bytes());
        w.buf.extend_from_slice(b"\": ");
    };
    if let Some(p) = c.predicted() {
        member(w, "predicted");
        p.write(&mut w.buf);
    }
    if c.class.is_some() {
        member(w, "support");
        c.support().write(&mut w.buf);
    }
    if let Some(t) = test {
        member(w, "statistics");
        compact_object!(w,
            "delta" => t.delta,
            "ci_low" => t.ci_low,
            "ci_high" => t.ci_high,
            "p_value" => t.p_value,
            "p_adjusted" => t.p_adjusted,
            "significant" => t.significant,
            "images" => t.images,
            "resamples" => t.resamples,
            "recomputed_baseline" => t.recomputed_baseline,
            "recomputed_candidate" => t.recomputed_candidate,
        );
        if !t.evidence.is_empty() {
            member(w, "evidence");
            w.buf.push(b'[');
            for (i, e) in t.evidence.iter().enumerate() {
                if i > 0 {
                    w.buf.extend_from_slice(b", ");
                }
                compact_object!(w,
                    "image_id" => e.image_id.as_str(),
                    "image_name" => e.image_name.as_str(),
                    "baseline_fn" => e.baseline_fn,
                    "baseline_fp" => e.baseline_fp,
                    "candidate_fn" => e.candidate_fn,
                    "candidate_fp" => e.candidate_fp,
                );
            }
            w.buf.push(b']');
            member(w, "worse_images");
            t.worse_images.write(&mut w.buf);
        }
    }
    w.buf.push(b'}');
}

/// How many checks [`warm`] loads at once.
const WARM: usize = 16;

/// Reads the first bytes of a run of checks and of their names. Rank order visits the checks
/// all over memory (8 MB of them at 10,000 classes), and writing one check takes longer than
/// the processor looks ahead, so each check's cache misses would stall the writer in turn;
/// loaded in one burst, a run's misses overlap.
fn warm<'c>(checks: impl Iterator<Item = &'c &'c Check>) {
    let mut seen = 0u8;
    for c in checks {
        seen ^= c.split.as_bytes().first().copied().unwrap_or_default();
        seen ^= c
            .class
            .as_deref()
            .and_then(|s| s.as_bytes().first())
            .copied()
            .unwrap_or_default();
        seen ^= c.status as u8;
    }
    std::hint::black_box(seen);
}

/// Each split's confidence, a fraction.
fn confidences(w: &mut Writer<'_>, by_split: &std::collections::BTreeMap<String, f64>) {
    w.object(|w| {
        for (split, c) in by_split {
            w.data_key(split);
            w.value(*c);
        }
    });
}

fn eval(w: &mut Writer<'_>, info: &EvalInfo) {
    let m = &info.meta;
    w.object(|w| {
        w.field("source", info.source.as_str());
        w.field("task", info.task.name());
        w.field("eval_id", m.eval_id.as_deref());
        w.field("workspace", m.workspace.as_deref());
        w.field("project", m.project.as_deref());
        w.field("version_id", m.version_id.as_deref());
        w.field("created_at", m.created_at.as_deref());
        w.field("url", m.app_url().as_deref());
        // Present only when there is one, so that reports of well-formed evals stay as they
        // were.
        if !info.notes.is_empty() {
            w.key("notes");
            w.array(|w| {
                for note in &info.notes {
                    w.element();
                    w.value(Display(note));
                }
            });
        }
    });
}

/// Writes an object of `"name" => value` members on one line, as [`Writer::object`] writes
/// one nested [`COMPACT_FROM`] deep: each name, with its quotes and the separator before it,
/// is one constant, so that a member of the 120,000 checks costs one fixed-size copy and its
/// value.
macro_rules! compact_object {
    ($w:expr, $first:literal => $v:expr $(, $name:literal => $value:expr)* $(,)?) => {{
        let w: &mut Writer<'_> = $w;
        debug_assert!(w.depth + 1 >= COMPACT_FROM);
        w.buf.extend_from_slice(concat!("{\"", $first, "\": ").as_bytes());
        Value::write($v, &mut w.buf);
        $(
            w.buf.extend_from_slice(concat!(", \"", $name, "\": ").as_bytes());
            Value::write($value, &mut w.buf);
        )*
        w.buf.push(b'}');
        w.empty = false;
    }};
}
use compact_object;

/// Containers nested this deep or deeper are written compactly: depth 1 is the report, 2 the
/// list of checks, 3 a check.
const COMPACT_FROM: usize = 3;

/// Bytes gathered before they go to the output: large enough that writes are few, small
/// enough to stay in cache.
const SPILL_AT: usize = 1 << 16;

/// A JSON writer in the report's layout, into a buffer that is spilled to the output as it
/// fills. The first write error is kept and returned by [`Writer::finish`]; what comes after
/// it is dropped, so that the calls that build the document need no error handling.
struct Writer<'o> {
    out: Output<'o>,
    buf: Vec<u8>,
    /// The buffer's size when it goes to the output.
    spill_at: usize,
    /// How many containers are open.
    depth: usize,
    /// Whether the innermost open container has no member yet.
    empty: bool,
}

impl<'o> Writer<'o> {
    fn new(out: &'o mut dyn io::Write) -> Writer<'o> {
        Writer::with_buffer(out, Vec::with_capacity(SPILL_AT + 4096), SPILL_AT)
    }

    fn with_buffer(out: &'o mut dyn io::Write, buf: Vec<u8>, spill_at: usize) -> Writer<'o> {
        Writer {
            out: Output::new(out),
            buf,
            spill_at,
            depth: 0,
            empty: true,
        }
    }

    #[inline]
    fn pretty(&self) -> bool {
        self.depth < COMPACT_FROM
    }

    fn newline(&mut self) {
        self.buf.push(b'\n');
        for _ in 0..self.depth {
            self.buf.extend_from_slice(b"  ");
        }
    }

    #[inline]
    fn open(&mut self, bracket: u8) {
        self.buf.push(bracket);
        self.depth += 1;
        self.empty = true;
    }

    #[inline]
    fn close(&mut self, bracket: u8) {
        let pretty = self.pretty();
        self.depth -= 1;
        if pretty && !self.empty {
            self.newline();
        }
        self.buf.push(bracket);
        self.empty = false;
    }

    #[inline]
    fn object(&mut self, members: impl FnOnce(&mut Self)) {
        self.open(b'{');
        members(self);
        self.close(b'}');
    }

    fn array(&mut self, elements: impl FnOnce(&mut Self)) {
        self.open(b'[');
        elements(self);
        self.close(b']');
    }

    /// Before a member or an element: a comma after the first, then a new line (pretty) or
    /// a space (compact).
    #[inline]
    fn element(&mut self) {
        if !self.empty {
            self.buf.push(b',');
        }
        if self.pretty() {
            self.newline();
        } else if !self.empty {
            self.buf.push(b' ');
        }
        self.empty = false;
    }

    /// An object member's name; the report's names are plain ASCII and need no escapes.
    #[inline]
    /// A key from the data (a split's name): escaped like any string.
    fn data_key(&mut self, name: &str) {
        self.element();
        write_str(&mut self.buf, name);
        self.buf.extend_from_slice(b": ");
    }

    fn key(&mut self, name: &str) {
        debug_assert!(name.bytes().all(|b| ESCAPE[usize::from(b)] == 0));
        self.element();
        self.buf.push(b'"');
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"\": ");
    }

    #[inline]
    fn value(&mut self, v: impl Value) {
        v.write(&mut self.buf);
    }

    #[inline]
    fn field(&mut self, name: &str, v: impl Value) {
        self.key(name);
        self.value(v);
    }

    /// Appends JSON that is already laid out.
    fn raw(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > self.spill_at {
            self.write_out();
            self.out.write(bytes);
        } else {
            self.buf.extend_from_slice(bytes);
        }
        self.empty = false;
    }

    /// Hands the buffer to the output once it is full.
    fn spill(&mut self) {
        if self.buf.len() >= self.spill_at {
            self.write_out();
        }
    }

    fn write_out(&mut self) {
        self.out.write(&self.buf);
        self.buf.clear();
    }

    fn finish(self) -> io::Result<()> {
        self.out.finish(&self.buf)
    }
}

/// A JSON value.
trait Value {
    fn write(self, buf: &mut Vec<u8>);
}

/// `null`.
impl Value for () {
    #[inline]
    fn write(self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"null");
    }
}

impl<T: Value> Value for Option<T> {
    #[inline]
    fn write(self, buf: &mut Vec<u8>) {
        match self {
            Some(v) => v.write(buf),
            None => ().write(buf),
        }
    }
}

impl Value for bool {
    #[inline]
    fn write(self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(if self { b"true" } else { b"false" });
    }
}

impl Value for &str {
    #[inline]
    fn write(self, buf: &mut Vec<u8>) {
        write_str(buf, self);
    }
}

/// One of evalgate's own names for a rule, a status, a metric or a size: plain ASCII that
/// needs no escapes, so none are looked for.
struct Name(&'static str);

impl Value for Name {
    #[inline]
    fn write(self, buf: &mut Vec<u8>) {
        debug_assert!(self.0.bytes().all(|b| ESCAPE[usize::from(b)] == 0));
        buf.push(b'"');
        buf.extend_from_slice(self.0.as_bytes());
        buf.push(b'"');
    }
}

/// A value written as the string its `Display` gives.
struct Display<'a, T>(&'a T);

impl<T: std::fmt::Display> Value for Display<'_, T> {
    #[inline]
    fn write(self, buf: &mut Vec<u8>) {
        write_str(buf, &self.0.to_string());
    }
}

/// A number as serde_json writes it: the shortest digits that read back as the same double
/// (`0.0` for zero), and `null` for what JSON cannot hold (NaN, infinities).
impl Value for f64 {
    #[inline]
    fn write(self, buf: &mut Vec<u8>) {
        if self.is_finite() {
            // Writing to a Vec cannot fail.
            let _ = CompactFormatter.write_f64(buf, self);
        } else {
            ().write(buf);
        }
    }
}

macro_rules! unsigned {
    ($($t:ty)*) => {$(
        impl Value for $t {
            #[inline]
            fn write(self, buf: &mut Vec<u8>) {
                let _ = CompactFormatter.write_u64(buf, self as u64);
            }
        }
    )*};
}
unsigned!(u8 u32 u64 usize);

/// Which bytes a JSON string escapes, and how: `u` for `\u00XX`, anything else for a
/// backslash and that byte. serde_json's table, so that strings read the same as they did.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0A] = b'n';
    t[0x0C] = b'f';
    t[0x0D] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

fn write_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        // Eight bytes at a time while none needs an escape: most strings need none.
        if let Some(chunk) = bytes.get(i..i + 8)
            && !needs_escape(u64::from_le_bytes(chunk.try_into().unwrap_or_default()))
        {
            i += 8;
            continue;
        }
        let b = bytes[i];
        let escape = ESCAPE[usize::from(b)];
        if escape != 0 {
            buf.extend_from_slice(&bytes[start..i]);
            start = i + 1;
            if escape == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xF)],
                ]);
            } else {
                buf.extend_from_slice(&[b'\\', escape]);
            }
        }
        i += 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// Whether any of eight bytes is a control character, a quote or a backslash (the bit tricks
/// of "Bit Twiddling Hacks": a byte below `n`, a byte equal to zero).
fn needs_escape(chunk: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let control = below(chunk, 0x20);
    let quote = below(chunk ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(chunk ^ (ONES * u64::from(b'\\')), 1);
    control | quote | backslash != 0
}

#[cfg(test)]
mod tests {
    use super::{Value, Writer, checks_in_blocks, write_str};
    use crate::gate::{Gate, GateOptions, GateReport};
    use proptest::prelude::*;

    /// A gate over `classes` classes with names that need escaping.
    fn report(classes: usize) -> GateReport {
        let eval = |shift: f64| {
            let per_class: Vec<String> = (0..classes)
                .map(|i| {
                    let v = 0.5 + (i % 97) as f64 / 200.0 - shift * (i % 5) as f64;
                    format!(
                        r#""cl\"ass\n{i}": {{"map50": {v}, "map50_95": {}}}"#,
                        v / 2.0
                    )
                })
                .collect();
            let json = format!(
                r#"{{"splits": {{"valid": {{"map50": 0.8, "map50_95": 0.5, "perClass": {{{}}}}}}}}}"#,
                per_class.join(", ")
            );
            crate::parse_eval(json.as_bytes()).unwrap()
        };
        let policy = "version: 1\nsplits:\n  \"*\":\n    classes:\n      \"*\":\n        map50: { min: 0.55, max_drop: 0.01 }\n        map50_95: { max_drop: 0.02 }\n";
        let (policy, _) = crate::parse_policy(policy).unwrap();
        let (base, cand) = (eval(0.0), eval(0.01));
        Gate::new(&policy, Some(&base), &cand)
            .and_then(|g| {
                g.evaluate(&GateOptions::new(
                    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                ))
            })
            .unwrap()
    }

    fn rendered(report: &GateReport, block: usize) -> String {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.object(|w| {
            w.key("checks");
            checks_in_blocks(w, report, block);
        });
        w.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    // Blocks rendered on the second thread come back in order, joined as one thread would
    // have written them: the same bytes with one block, with many, and with a short last one.
    #[test]
    fn checks_rendered_in_blocks_on_two_threads_match_one_thread() {
        let report = report(700);
        assert_eq!(report.checks.len(), 2100);
        let whole = rendered(&report, usize::MAX);
        let doc: serde_json::Value = serde_json::from_str(&whole).unwrap();
        let checks = doc["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 2100);
        let ranked = report.ranked();
        for (json, check) in checks.iter().zip(&ranked) {
            let mut id = String::new();
            check.write_id(&mut id);
            assert_eq!(json["id"], id.as_str());
            assert_eq!(json["class"], check.class.as_deref().unwrap());
        }
        // One check a line, each line a whole JSON object.
        assert_eq!(whole.lines().count(), 2100 + 4);
        for block in [1, 7, 1024, 2099, 2100] {
            assert_eq!(rendered(&report, block), whole, "blocks of {block}");
        }
    }

    fn written(v: impl Value) -> String {
        let mut buf = Vec::new();
        v.write(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    proptest! {
        // The report's strings and numbers are byte for byte what serde_json wrote before.
        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(s in any::<String>()) {
            let mut buf = Vec::new();
            write_str(&mut buf, &s);
            prop_assert_eq!(String::from_utf8(buf).unwrap(), serde_json::to_string(&s).unwrap());
        }

        // Escapes at every offset of the eight-byte runs, next to multi-byte characters.
        #[test]
        fn strings_dense_with_escapes_are_escaped_as_serde_json_escapes_them(
            chars in proptest::collection::vec(
                proptest::sample::select(vec!['"', '\\', '\n', '\u{1}', '\u{1f}', ' ', 'a', '\u{7f}', 'é', '💥']),
                0..40,
            )
        ) {
            let s: String = chars.into_iter().collect();
            let mut buf = Vec::new();
            write_str(&mut buf, &s);
            prop_assert_eq!(String::from_utf8(buf).unwrap(), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn numbers_are_serde_json_numbers(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assert_eq!(written(v), serde_json::to_string(&v).unwrap());
            if v.is_finite() {
                prop_assert_eq!(written(v).parse::<f64>().unwrap().to_bits(), v.to_bits());
            }
        }
    }

    #[test]
    fn control_characters_quotes_and_backslashes_are_escaped() {
        assert_eq!(
            written("a\"b\\c\n\t\u{1}\u{1f}\u{7f}é"),
            r#""a\"b\\c\n\t\u0001\u001f"#.to_owned() + "\u{7f}é\""
        );
        assert_eq!(written(None::<f64>), "null");
        assert_eq!(written(f64::NAN), "null");
        assert_eq!(written(0.0), "0.0");
        assert_eq!(written(300u32), "300");
    }
}
