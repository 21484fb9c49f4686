use orchestrator::step;

#[step(depend_on = "scan")]
async fn review() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[step(after = "scan", colour = "blue")]
async fn fix() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
