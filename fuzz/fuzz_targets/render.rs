//! Eval bytes (any names, any values) → the gate under a fixed policy that covers every
//! split, size and class → all three reports, each checked for validity.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(candidate) = evalgate::parse_eval(data) else {
        return;
    };
    let policy = evalgate_fuzz::policy_for(candidate.task);
    let candidate = evalgate_fuzz::with_meta(candidate);
    // Against the example baseline of the same task, against itself, and without a baseline.
    for (baseline, _) in evalgate_fuzz::example_evals() {
        if baseline.task == candidate.task {
            evalgate_fuzz::gate_and_render(&policy, Some(&baseline), &candidate);
        }
    }
    evalgate_fuzz::gate_and_render(&policy, Some(&candidate), &candidate);
    evalgate_fuzz::gate_and_render(&policy, None, &candidate);
});
