use orchestrator::{step, workflow};

#[step]
async fn lint() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[step]
async fn scan() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[step(depends_on = ["scan", "lint"])]
async fn review(scan: &u32) -> Result<u32, std::io::Error> {
    Ok(*scan)
}

// `lint` is a step, but not of this workflow.
workflow!(CodeReview: scan, review);

fn main() {
    let _ = lint;
}
