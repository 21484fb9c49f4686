use orchestrator::step;

// Three mistakes, three errors; the function is still usable below.
#[step(retries = 3, timeout = "soon")]
fn review(scan: u32) -> Result<u32, std::io::Error> {
    Ok(scan)
}

fn main() {
    let _ = review(1);
}
