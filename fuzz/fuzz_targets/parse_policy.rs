//! Policy text → `parse_policy`, its diagnostics drawn as `check` draws them, and any policy
//! that parses gated against the example evals and rendered in every format.
#![no_main]

use evalgate::policy::DiagnosticLevel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match evalgate::parse_policy(text) {
        Ok((policy, warnings)) => {
            assert!(
                warnings.iter().all(|d| d.level == DiagnosticLevel::Warning),
                "an error came back with a valid policy"
            );
            evalgate_fuzz::render_diagnostics(&warnings, text);
            for (baseline, candidate) in evalgate_fuzz::example_evals() {
                evalgate_fuzz::gate_and_render(&policy, Some(&baseline), &candidate);
                evalgate_fuzz::gate_and_render(&policy, None, &candidate);
            }
        }
        Err(e) => {
            assert!(
                e.diagnostics
                    .iter()
                    .any(|d| d.level == DiagnosticLevel::Error),
                "a refused policy without an error"
            );
            evalgate_fuzz::render_diagnostics(&e.diagnostics, text);
        }
    }
});
