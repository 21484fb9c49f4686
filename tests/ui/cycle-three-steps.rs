use orchestrator::{step, workflow};

#[step]
async fn load() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[step(depends_on = ["load", "fix"])]
async fn review(load: &u32) -> Result<u32, std::io::Error> {
    Ok(*load)
}

#[step(depends_on = "verify")]
async fn fix() -> Result<u32, std::io::Error> {
    Ok(2)
}

#[step(depends_on = "review")]
async fn verify(review: &u32) -> Result<u32, std::io::Error> {
    Ok(*review)
}

workflow!(Pipeline: load, review, fix, verify);

fn main() {}
