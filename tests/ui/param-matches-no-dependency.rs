use orchestrator::step;

#[step(depends_on = "scan")]
async fn review(scan: &u32, repo: &String, config: &String) -> Result<u32, std::io::Error> {
    let _ = (repo, config);
    Ok(*scan)
}

fn main() {}
