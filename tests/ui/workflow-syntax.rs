use orchestrator::workflow;

workflow!(CodeReview scan, review);
workflow!(Empty:);

fn main() {}
