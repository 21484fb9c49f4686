use orchestrator::step;

#[step(timeout = "3 parsecs", retry = 0, trigger_rule = "all_sucess", depends_on = 5, own_task = "yes")]
async fn review() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
