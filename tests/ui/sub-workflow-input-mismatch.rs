use orchestrator::{step, workflow};

#[step]
async fn double(n: &u32) -> Result<u32, std::io::Error> {
    Ok(n * 2)
}

workflow!(Doubler: double);

// `Doubler` takes a `u32`; this step returns a `String` as its input.
#[step(workflow = Doubler)]
async fn doubled() -> Result<String, std::io::Error> {
    Ok(String::from("21"))
}

workflow!(Parent: doubled);

fn main() {}
