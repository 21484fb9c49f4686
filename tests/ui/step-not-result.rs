use orchestrator::step;

#[step]
async fn scan() -> u32 {
    1
}

#[step]
async fn review() {}

fn main() {}
