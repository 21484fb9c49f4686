use orchestrator::patterns::Iteration;
use orchestrator::{step, workflow, RunReport};

#[step]
async fn attempt(it: &Iteration<u32>) -> Result<u32, std::io::Error> {
    Ok(*it.input())
}

workflow!(Body: attempt);

fn done(_: &RunReport) -> bool {
    true
}

#[step(repeat = Body, until = done)]
async fn retry_forever(n: &u32) -> Result<u32, std::io::Error> {
    Ok(*n)
}

#[step(repeat = Body, max_iterations = 3)]
async fn no_condition(n: &u32) -> Result<u32, std::io::Error> {
    Ok(*n)
}

fn main() {}
