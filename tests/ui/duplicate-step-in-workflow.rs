use orchestrator::{step, workflow};

#[step]
async fn scan() -> Result<u32, std::io::Error> {
    Ok(1)
}

mod other {
    use orchestrator::step;

    #[step]
    pub async fn scan() -> Result<u32, std::io::Error> {
        Ok(2)
    }
}

workflow!(CodeReview: scan, other::scan);
workflow!(Twice: scan, scan);

fn main() {}
