//! The generated code is hygienic: it works when the user shadows the
//! prelude (`Result`, `Ok`, `Option`, `Some`, `None`, ...) and under
//! `#![deny(warnings)]` and clippy (CI runs clippy over this file with
//! `-D warnings`).

#![deny(warnings)]
#![deny(clippy::all)]

mod shadowed {
    #![allow(dead_code, clippy::upper_case_acronyms)]

    // Every name the generated code might reach for without a path.
    struct Result;
    struct Ok;
    struct Err;
    struct Option;
    struct Some;
    struct None;
    struct Box;
    struct Vec;
    struct String;
    struct Arc;
    struct Future;
    struct From;
    struct Into;
    mod core {}
    mod std {}

    use orchestrator::{step, workflow};

    #[step]
    pub(super) async fn numbers(n: &u64) -> ::core::result::Result<u64, ::std::io::Error> {
        ::core::result::Result::Ok(*n)
    }

    #[step(depends_on = "numbers", retry = 2, timeout = "1s")]
    pub(super) async fn doubled(numbers: &u64) -> ::core::result::Result<u64, ::std::io::Error> {
        ::core::result::Result::Ok(numbers * 2)
    }

    workflow!(
        /// A workflow declared where the prelude is shadowed.
        pub(super) Shadowed: numbers, doubled
    );
}

#[tokio::test]
async fn generated_code_works_when_the_prelude_is_shadowed() {
    let engine = orchestrator::WorkflowEngine::new();
    let out = shadowed::Shadowed::run(&engine, 21)
        .await
        .map_err(|e| e.to_string());
    assert_eq!(out.map(|o| *o.doubled), Ok(42));
}
