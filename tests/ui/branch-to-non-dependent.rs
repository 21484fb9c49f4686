use orchestrator::{step, workflow, Branch};

#[step(branches = ["quick", "deploy", "deeep"])]
async fn route() -> Result<Branch, std::io::Error> {
    Ok(Branch::to("quick"))
}

#[step(depends_on = "route")]
async fn quick() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[step(depends_on = "route")]
async fn deep() -> Result<u32, std::io::Error> {
    Ok(2)
}

// `deploy` is a step of the workflow, but does not depend on `route`.
#[step]
async fn deploy() -> Result<u32, std::io::Error> {
    Ok(3)
}

workflow!(Triage: route, quick, deep, deploy);

fn main() {}
