use orchestrator::step;

#[step]
fn scan() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {
    // The function is still emitted: no second error here.
    let _ = scan();
}
