//! The DSL's compile errors: each case in `tests/ui/` is a mistake, and its
//! `.stderr` is what the user sees. Regenerate with `TRYBUILD=overwrite`
//! and review the diff: is the caret under the right token, and does the
//! message say how to fix it?

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("../tests/ui/*.rs");
}
