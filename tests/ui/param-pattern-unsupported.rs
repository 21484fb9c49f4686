use orchestrator::step;

#[step(depends_on = ["scan", "lint"])]
async fn review((a, b): &(u32, u32), scan: u32, lint: &mut u32) -> Result<u32, std::io::Error> {
    Ok(a + b + scan + *lint)
}

fn main() {}
