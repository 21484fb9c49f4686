use orchestrator::{step, workflow};

struct ScanReport;
struct Review;

#[step]
async fn scan() -> Result<ScanReport, std::io::Error> {
    Ok(ScanReport)
}

#[step(depends_on = "scan")]
async fn review(scan: &Review) -> Result<u32, std::io::Error> {
    let _ = scan;
    Ok(1)
}

workflow!(CodeReview: scan, review);

fn main() {}
