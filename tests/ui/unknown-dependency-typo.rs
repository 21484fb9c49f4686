use orchestrator::{step, workflow};

#[step]
async fn scan() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[step(depends_on = "sacn")]
async fn review() -> Result<u32, std::io::Error> {
    Ok(2)
}

workflow!(CodeReview: scan, review);

fn main() {}
