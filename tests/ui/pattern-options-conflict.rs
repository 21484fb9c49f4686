use orchestrator::step;

#[step(depends_on = "files", repeat = Body, map_over = "files", max_iterations = 2)]
async fn both(files: &u32) -> Result<u32, std::io::Error> {
    Ok(*files)
}

#[step(max_iterations = 3, concurrency = 4, check = "judge")]
async fn stray() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
