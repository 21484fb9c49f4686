use orchestrator::{step, workflow};

#[step(depends_on = "review")]
async fn scan() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[step(depends_on = "scan")]
async fn review(scan: &u32) -> Result<u32, std::io::Error> {
    Ok(*scan)
}

workflow!(CodeReview: scan, review);

fn main() {}
