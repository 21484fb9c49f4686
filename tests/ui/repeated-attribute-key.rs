use orchestrator::step;

#[step(timeout = "1s", retry = 2, timeout = "2s")]
async fn review() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
