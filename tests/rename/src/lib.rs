//! Proves that `#[step]` and `workflow!` work when the `orchestrator` crate
//! is renamed (here to `orch`) in `Cargo.toml`, and when it is reached
//! through a re-export (with `#[step(crate = "...")]`).

use orch::{step, workflow};

/// Steps whose crate is found under its new name.
#[step]
pub async fn greet(name: &String) -> Result<String, std::io::Error> {
    Ok(format!("hello {name}"))
}

/// A step that depends on `greet`.
#[step(depends_on = "greet")]
pub async fn shout(greet: &str) -> Result<String, std::io::Error> {
    Ok(greet.to_uppercase())
}

workflow!(
    /// A workflow built through the renamed crate.
    pub Renamed: greet, shout
);

/// `orchestrator` reached through a re-export of another crate.
pub mod reexport {
    /// Where a framework would re-export `orchestrator`.
    pub use orch as engine;
}

/// A step that names the crate through the re-export.
#[step(crate = "crate::reexport::engine")]
pub async fn through_reexport() -> Result<u8, std::io::Error> {
    Ok(7)
}

workflow!(
    /// A workflow whose step names the crate explicitly.
    pub Reexported: through_reexport
);

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "current_thread")]
    async fn macros_work_when_the_crate_is_renamed() {
        let engine = orch::WorkflowEngine::new();
        let out = super::Renamed::run(&engine, String::from("ada")).await;
        assert_eq!(
            out.map(|o| o.shout.as_str().to_owned())
                .map_err(|e| e.to_string()),
            Ok(String::from("HELLO ADA"))
        );
        let out = super::Reexported::run(&engine, ()).await;
        assert_eq!(
            out.map(|o| *o.through_reexport).map_err(|e| e.to_string()),
            Ok(7)
        );
    }
}
