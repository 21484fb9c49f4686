use orchestrator::step;

#[step(branches = ["quick"])]
async fn route() -> Result<String, std::io::Error> {
    Ok(String::from("quick"))
}

fn main() {}
