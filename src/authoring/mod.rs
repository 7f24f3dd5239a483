//! Tools for writing policies: a starting policy from an eval (`init`), a review of a policy
//! against evals (`lint`), what applies where (`explain`), what a change loosens (`diff`), and
//! the JSON Schema editors use (`schema`).

pub mod diff;
pub mod explain;
pub mod init;
pub mod lint;
pub mod schema;

#[cfg(test)]
mod test_evals;
