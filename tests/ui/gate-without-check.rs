use orchestrator::patterns::{Iteration, Verdict};
use orchestrator::{step, workflow};

#[step]
async fn judge(it: &Iteration<u32>) -> Result<Verdict, std::io::Error> {
    let _ = it;
    Ok(Verdict::Pass)
}

workflow!(Checked: judge);

#[step(gate = Checked)]
async fn gate(n: &u32) -> Result<u32, std::io::Error> {
    Ok(*n)
}

fn main() {}
