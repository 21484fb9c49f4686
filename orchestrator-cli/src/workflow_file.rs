//! Workflow files: a [`WorkflowDefinition`] written as JSON or YAML.
//!
//! ```json
//! {"name": "code_review_pipeline",
//!  "steps": [{"name": "scan"},
//!            {"name": "review", "depends_on": ["scan"], "duration": 2.5}]}
//! ```
//!
//! A malformed file gets an error with the line and column and what was
//! expected; unknown fields are rejected by name.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use orchestrator_core::WorkflowDefinition;

/// The syntax of a workflow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// JSON.
    Json,
    /// YAML (1.2, one document).
    Yaml,
}

impl Syntax {
    /// The syntax a file name says (`.json`, `.yaml`, `.yml`), if any.
    fn of_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }

    /// JSON when the text starts with `{`, YAML otherwise.
    fn sniff(text: &str) -> Self {
        if text.trim_start().starts_with('{') {
            Self::Json
        } else {
            Self::Yaml
        }
    }
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "JSON",
            Self::Yaml => "YAML",
        })
    }
}

/// Why a workflow file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened or read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a valid workflow definition.
    #[error("{}", describe(path, *syntax, *line, *column, message))]
    Malformed {
        /// The file (`-` for standard input).
        path: PathBuf,
        /// The syntax it was read as.
        syntax: Syntax,
        /// The line of the problem (1-based), when known.
        line: Option<usize>,
        /// The column of the problem (1-based), when known.
        column: Option<usize>,
        /// What is wrong, and what was expected.
        message: String,
    },
}

fn describe(
    path: &Path,
    syntax: Syntax,
    line: Option<usize>,
    column: Option<usize>,
    message: &str,
) -> String {
    let place = match (line, column) {
        (Some(line), Some(column)) => format!(", line {line}, column {column}"),
        (Some(line), None) => format!(", line {line}"),
        _ => String::new(),
    };
    format!(
        "`{}` is not a valid workflow file ({syntax}{place}): {message}",
        path.display()
    )
}

/// Reads and parses the workflow file at `path`; `-` reads standard input.
///
/// The syntax follows the extension (`.json`, `.yaml`, `.yml`); otherwise
/// a file starting with `{` is JSON and anything else YAML.
pub fn read(path: &Path) -> Result<WorkflowDefinition, FileError> {
    let read_error = |source| FileError::Read {
        path: path.to_owned(),
        source,
    };
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(read_error)?;
        text
    } else {
        std::fs::read_to_string(path).map_err(read_error)?
    };
    let syntax = Syntax::of_path(path).unwrap_or_else(|| Syntax::sniff(&text));
    parse(&text, syntax).map_err(|e| e.at(path))
}

/// A parse error before it knows its file.
#[derive(Debug)]
pub struct ParseError {
    syntax: Syntax,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
}

impl ParseError {
    /// The error, for the file at `path`.
    pub fn at(self, path: &Path) -> FileError {
        FileError::Malformed {
            path: path.to_owned(),
            syntax: self.syntax,
            line: self.line,
            column: self.column,
            message: self.message,
        }
    }
}

/// Parses a workflow definition written in `syntax`.
pub fn parse(text: &str, syntax: Syntax) -> Result<WorkflowDefinition, ParseError> {
    match syntax {
        Syntax::Json => serde_json::from_str(text).map_err(|e| {
            // serde_json counts lines from 1 and columns from 1 (0 when the
            // problem is at the very start of a line, e.g. end of input).
            let message = without_position(&e.to_string(), Some(e.line()), Some(e.column()));
            let (line, column) = (e.line(), e.column());
            ParseError {
                syntax,
                line: (line > 0).then_some(line),
                column: (line > 0).then_some(column.max(1)),
                message,
            }
        }),
        Syntax::Yaml => yaml_serde::from_str(text).map_err(|e| {
            let location = e.location();
            let line = location.as_ref().map(yaml_serde::Location::line);
            let column = location.as_ref().map(yaml_serde::Location::column);
            ParseError {
                syntax,
                line,
                column,
                message: without_position(&e.to_string(), line, column),
            }
        }),
    }
}

/// The parser's message without its own "at line 3 column 5" for the
/// position the error reports separately; other positions (such as where
/// an unclosed list started) stay.
fn without_position(message: &str, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => {
            message.replacen(&format!(" at line {line} column {column}"), "", 1)
        }
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{"name": "code_review_pipeline",
 "steps": [{"name": "scan"},
           {"name": "review", "depends_on": ["scan"], "duration": 2.5}]}"#;

    const YAML: &str = "name: code_review_pipeline
steps:
  - name: scan
  - name: review
    depends_on: [scan]
    duration: 2.5
";

    fn error(text: &str, syntax: Syntax) -> String {
        match parse(text, syntax) {
            Ok(wf) => format!("parsed {wf:?}"),
            Err(e) => e.at(Path::new("wf")).to_string(),
        }
    }

    #[test]
    fn json_and_yaml_give_the_same_definition() {
        let json = parse(JSON, Syntax::Json).ok();
        let yaml = parse(YAML, Syntax::Yaml).ok();
        assert!(json.is_some());
        assert_eq!(json, yaml);
        let Some(wf) = json else { return };
        assert_eq!(wf.steps[1].depends_on, ["scan"]);
        assert_eq!(wf.steps[1].duration, Some(2.5));
    }

    #[test]
    fn malformed_json_names_the_line_column_and_what_was_expected() {
        let text = "{\"name\": \"wf\",\n \"steps\": [{\"name\": \"a\"}\n}";
        assert_eq!(
            error(text, Syntax::Json),
            "`wf` is not a valid workflow file (JSON, line 3, column 1): expected `,` or `]`"
        );
    }

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let text = "{\"name\": \"wf\", \"steps\": [{\"name\": \"a\", \"dependson\": []}]}";
        let message = error(text, Syntax::Json);
        assert!(
            message.contains(
                "(JSON, line 1, column 50): unknown field `dependson`, expected one of `name`, `depends_on`, `duration`"
            ),
            "{message}"
        );
        let yaml = "name: wf\nsteps:\n  - name: a\n    dependson: []\n";
        let message = error(yaml, Syntax::Yaml);
        assert!(
            message.contains("(YAML, line 4, column 5): steps[0]: unknown field `dependson`"),
            "{message}"
        );
    }

    #[test]
    fn malformed_yaml_names_the_line_and_column() {
        let yaml = "name: wf\nsteps:\n  - name: a\n   depends_on: [b\n";
        let message = error(yaml, Syntax::Yaml);
        assert!(
            message.ends_with(
                "(YAML, line 4, column 4): did not find expected '-' indicator, while parsing a block collection at line 3 column 3"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_missing_name_is_reported() {
        let message = error("{\"steps\": []}", Syntax::Json);
        assert!(message.ends_with("missing field `name`"), "{message}");
        let message = error("steps: []\n", Syntax::Yaml);
        assert!(message.ends_with("missing field `name`"), "{message}");
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let message = error(
            "name: wf\nsteps:\n  - name: a\n    depends_on: b\n",
            Syntax::Yaml,
        );
        assert!(message.contains("expected a sequence"), "{message}");
    }

    #[test]
    fn an_empty_file_is_an_error_not_an_empty_workflow() {
        assert!(error("", Syntax::Json).contains("EOF while parsing"));
        assert!(!error("", Syntax::Yaml).starts_with("parsed"));
    }

    #[test]
    fn the_syntax_follows_the_extension_then_the_content() {
        assert_eq!(Syntax::of_path(Path::new("a.JSON")), Some(Syntax::Json));
        assert_eq!(Syntax::of_path(Path::new("a.yml")), Some(Syntax::Yaml));
        assert_eq!(Syntax::of_path(Path::new("a")), None);
        assert_eq!(Syntax::sniff("  {\"name\": 1}"), Syntax::Json);
        assert_eq!(Syntax::sniff("name: a"), Syntax::Yaml);
    }
}
