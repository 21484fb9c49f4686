use orchestrator::step;

#[step(map_over = "files")]
async fn count(file: &String) -> Result<usize, std::io::Error> {
    Ok(file.len())
}

fn main() {}
