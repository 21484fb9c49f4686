//! The generated code is hygienic: it works when the user shadows the
//! prelude (`Result`, `Ok`, `Option`, `Some`, `None`, ...) and under
//! `#![deny(warnings)]` and clippy (CI runs clippy over this file with
//! `-D warnings`).

#![deny(warnings)]
#![deny(clippy::all)]

mod shadowed {
    #![allow(dead_code, non_upper_case_globals, clippy::upper_case_acronyms)]

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

    // Constants named like the bindings generated code might make: a
    // binding of the same name would be a pattern matching the constant.
    // (The generated public functions keep their documented parameter
    // names: `engine`, `input`, `execution`, `report`.)
    const value: u8 = 0;
    const error: u8 = 0;
    const ok: u8 = 0;
    const payload: u8 = 0;
    const run: u8 = 0;
    const f: u8 = 0;
    const branch: u8 = 0;
    const item: u8 = 0;
    const step: u8 = 0;
    const out: u8 = 0;

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

    #[step(depends_on = "numbers")]
    pub(super) async fn tripled(numbers: &u64) -> ::core::result::Result<u64, ::std::io::Error> {
        ::core::result::Result::Ok(numbers * 3)
    }

    #[step(depends_on = "numbers")]
    pub(super) async fn squared(numbers: &u64) -> ::core::result::Result<u64, ::std::io::Error> {
        ::core::result::Result::Ok(numbers * numbers)
    }

    #[step(depends_on = ["tripled", "squared"])]
    pub(super) async fn summed(
        tripled: &u64,
        squared: &u64,
    ) -> ::core::result::Result<u64, ::std::io::Error> {
        ::core::result::Result::Ok(tripled + squared)
    }

    #[step(depends_on = "tripled")]
    pub(super) async fn halved(tripled: &u64) -> ::core::result::Result<u64, ::std::io::Error> {
        ::core::result::Result::Ok(tripled / 2)
    }

    workflow!(
        /// Complete layers, on the static path: a step alone in its layer
        /// and a wider layer.
        pub(super) Layers: numbers, tripled, squared, summed
    );

    workflow!(
        /// Not complete layers: the static path's tree.
        pub(super) Tree: numbers, tripled, squared, halved
    );

    #[step]
    pub(super) async fn incremented(n: &u64) -> ::core::result::Result<u64, ::std::io::Error> {
        ::core::result::Result::Ok(n + 1)
    }

    workflow!(pub(super) Inner: incremented);

    /// A step running a nested workflow (generated `Composite` code).
    #[step(depends_on = "numbers", workflow = Inner)]
    pub(super) async fn nested(numbers: &u64) -> ::core::result::Result<u64, ::std::io::Error> {
        ::core::result::Result::Ok(*numbers)
    }

    workflow!(pub(super) Nesting: numbers, nested);
}

#[tokio::test]
async fn generated_code_works_when_the_prelude_is_shadowed() {
    let engine = orchestrator::WorkflowEngine::new();
    let out = shadowed::Shadowed::run(&engine, 21)
        .await
        .map_err(|e| e.to_string());
    assert_eq!(out.map(|o| *o.doubled), Ok(42));
}

#[tokio::test]
async fn the_static_path_works_where_the_prelude_and_binding_names_are_shadowed() {
    let engine = orchestrator::WorkflowEngine::new();
    let layers = shadowed::Layers::run(&engine, 4).await.map(|o| *o.summed);
    assert_eq!(layers.map_err(|e| e.to_string()), Ok(28));
    let tree = shadowed::Tree::run(&engine, 4)
        .await
        .map(|o| (*o.squared, *o.halved));
    assert_eq!(tree.map_err(|e| e.to_string()), Ok((16, 6)));
    let nesting = shadowed::Nesting::run(&engine, 4)
        .await
        .map(|o| *o.nested.incremented);
    assert_eq!(nesting.map_err(|e| e.to_string()), Ok(5));
}
