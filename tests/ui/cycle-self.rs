use orchestrator::step;

#[step(depends_on = "scan")]
async fn scan() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
