use orchestrator::step;

#[step(depends_on = "scan")]
async fn review(sacn: &u32) -> Result<u32, std::io::Error> {
    Ok(*sacn)
}

fn main() {}
