//! Every mistake the derives report, with its message and the token it points at: one
//! trybuild run over tests/ui/ (each case a crate of its own, compiled once together).

#[test]
fn each_mistake_is_reported_at_its_token() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
