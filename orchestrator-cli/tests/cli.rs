//! The `orchestrator` binary as a user runs it: exit codes, output, and the
//! words of its errors.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_orchestrator");

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/workflows")
        .join(name)
}

/// A workflow file with `text` in the system's temporary directory.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "orchestrator-cli-test-{}-{name}",
            std::process::id()
        ));
        if let Err(e) = std::fs::write(&path, text) {
            panic!("cannot write {}: {e}", path.display());
        }
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    match Command::new(BIN).args(args).output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run {BIN}: {e}"),
    }
}

fn run_with_stdin(args: &[&str], input: &str) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => panic!("cannot run {BIN}: {e}"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    match child.wait_with_output() {
        Ok(output) => output,
        Err(e) => panic!("{BIN} did not finish: {e}"),
    }
}

fn analyze(path: &Path, format: &str) -> Output {
    let path = path.to_string_lossy();
    run(&["analyze", &path, "--format", format])
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_default()
}

#[test]
fn a_valid_workflow_prints_its_analysis_and_exits_0() {
    let output = run(&["analyze", &example("code_review.yaml").to_string_lossy()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("workflow `code_review_pipeline`: valid, 7 steps, 9 dependencies\n"));
    assert!(text.contains("  1  review_style, review_security, review_tests\n"));
    assert!(text.contains(
        "critical path:  scan -> review_security -> aggregate -> fix -> verify (length 0.66)\n"
    ));
    assert!(text.contains("  aggregate -> verify  (via aggregate -> fix -> verify)\n"));
    assert!(stderr(&output).is_empty());
}

#[test]
fn json_and_yaml_files_give_the_same_analysis() {
    let from_json = analyze(&example("code_review.json"), "json");
    let from_yaml = analyze(&example("code_review.yaml"), "json");
    assert_eq!(from_json.status.code(), Some(0));
    assert_eq!(stdout(&from_json), stdout(&from_yaml));
    let report = json(&from_json);
    assert_eq!(report["valid"], true);
    assert_eq!(report["order"][0], "scan");
    assert_eq!(report["widest_level"]["width"], 3);
    assert_eq!(report["redundant_edges"][0]["from"], "aggregate");
    assert_eq!(report["critical_path"].as_array().map(Vec::len), Some(5));
}

#[test]
fn a_cycle_exits_1_and_spells_out_its_path() {
    let file = TempFile::new(
        "cycle.json",
        r#"{"name": "loop", "steps": [
            {"name": "scan"},
            {"name": "review", "depends_on": ["scan", "fix"]},
            {"name": "fix", "depends_on": ["review"]}]}"#,
    );
    let output = analyze(&file.0, "text");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: workflow `loop` is invalid (1 problem):\n  - workflow `loop` has a cycle: \
         review -> fix -> review; a workflow must be acyclic, so remove one of these dependencies\n"
    );
    let output = analyze(&file.0, "json");
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["cycles"],
        serde_json::json!([["review", "fix", "review"]])
    );
}

#[test]
fn a_typo_exits_1_and_names_the_closest_step() {
    let file = TempFile::new(
        "typo.yaml",
        "name: typo\nsteps:\n  - name: scan\n  - name: review\n    depends_on: [sacn]\n",
    );
    let output = analyze(&file.0, "text");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(
            "step `review` depends on `sacn`, which is not a step of workflow `typo`; did you mean `scan`?"
        ),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn malformed_json_exits_2_with_the_line_column_and_what_was_expected() {
    let file = TempFile::new(
        "malformed.json",
        "{\"name\": \"wf\",\n \"steps\": [{\"name\": \"a\"}\n}\n",
    );
    let output = analyze(&file.0, "text");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "error: `{}` is not a valid workflow file (JSON, line 3, column 1): expected `,` or `]`\n",
            file.0.display()
        )
    );
}

#[test]
fn malformed_yaml_exits_2_with_the_line_and_column() {
    let file = TempFile::new(
        "malformed.yaml",
        "name: wf\nsteps:\n  - name: a\n    depends_on: [b\n  - name: b\n",
    );
    let output = analyze(&file.0, "text");
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("is not a valid workflow file (YAML, line 5, column"),
        "{message}"
    );
}

#[test]
fn an_unknown_field_is_rejected_by_name() {
    let file = TempFile::new(
        "unknown_field.yaml",
        "name: wf\nsteps:\n  - name: a\n    needs: [b]\n",
    );
    let output = analyze(&file.0, "text");
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains(
            "(YAML, line 4, column 5): steps[0]: unknown field `needs`, expected one of `name`, `depends_on`, `duration`"
        ),
        "{message}"
    );
}

#[test]
fn a_missing_file_exits_2_naming_the_file() {
    let output = run(&["analyze", "/nonexistent/workflow.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: cannot read `/nonexistent/workflow.json`: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let output = run_with_stdin(
        &["analyze", "-", "--format", "json"],
        r#"{"name": "piped", "steps": [{"name": "a"}, {"name": "b", "depends_on": ["a"]}]}"#,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json(&output)["order"], serde_json::json!(["a", "b"]));
}

#[test]
fn mermaid_and_dot_pictures_are_printed() {
    let mermaid = analyze(&example("code_review.json"), "mermaid");
    assert_eq!(mermaid.status.code(), Some(0));
    let text = stdout(&mermaid);
    assert!(text.starts_with("flowchart TD\n"));
    assert!(text.contains("    s2[\"review_security<br/>0.2s\"]\n"));
    assert!(text.contains("    s5 --> s6\n"));

    let dot = analyze(&example("code_review.json"), "dot");
    assert_eq!(dot.status.code(), Some(0));
    let text = stdout(&dot);
    assert!(text.starts_with("digraph \"code_review_pipeline\" {\n"));
    assert!(text.contains("    s0 -> s1;\n"));
    assert!(text.ends_with("}\n"));
}

#[test]
fn an_invalid_workflow_is_still_drawn_but_exits_1() {
    let file = TempFile::new(
        "drawn.json",
        r#"{"name": "wf", "steps": [{"name": "b", "depends_on": ["a"]}]}"#,
    );
    let output = analyze(&file.0, "mermaid");
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("s1[\"a (missing)\"]:::missing"));
    assert!(stderr(&output).contains("depends on `a`, which is not a step"));
}

#[test]
fn a_spent_redundant_budget_is_reported_not_hidden() {
    let path = example("code_review.json");
    let path = path.to_string_lossy();
    let output = run(&["analyze", &path, "--redundant-budget", "0"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).contains("stopped at its budget"),
        "{}",
        stdout(&output)
    );
    let output = run(&["analyze", &path, "-f", "json", "--redundant-budget", "0"]);
    assert_eq!(json(&output)["redundant_edges_complete"], false);
}

#[test]
fn help_lists_every_command_format_and_exit_status() {
    let help = stdout(&run(&["--help"]));
    for word in ["analyze", "mcp", "depends_on", "duration", "Exit status"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let help = stdout(&run(&["analyze", "--help"]));
    for word in ["text", "json", "mermaid", "dot", "--format", "stdin"] {
        assert!(help.contains(word), "analyze --help lacks {word}:\n{help}");
    }
    let help = stdout(&run(&["mcp", "--help"]));
    for word in [
        "analyze_workflow",
        "validate_workflow",
        "render_workflow",
        "--max-steps",
        "mcpServers",
    ] {
        assert!(help.contains(word), "mcp --help lacks {word}:\n{help}");
    }
}

#[test]
fn an_unknown_format_exits_2_and_lists_the_valid_ones() {
    let output = run(&["analyze", "x.json", "--format", "svg"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("invalid value 'svg'"), "{message}");
    assert!(message.contains("text, json, mermaid, dot"), "{message}");
}
