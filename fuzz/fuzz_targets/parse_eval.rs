//! Eval bytes → `parse_eval`: never a panic, and whatever parses holds only fractions, with
//! its classes in order and notes only where they belong.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(eval) = evalgate::parse_eval(data) {
        evalgate_fuzz::assert_fractions(&eval);
        evalgate_fuzz::assert_eval_shape(&eval);
    }
});
