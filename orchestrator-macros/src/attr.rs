//! Parsing the arguments of `#[step(...)]`, collecting every problem.

use proc_macro2::{Span, TokenStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token};

use crate::duration::parse_nanos;
use crate::errors::Errors;

/// The options a `#[step]` accepts, as written in error messages.
pub(crate) const KEYS: &[&str] = &[
    "depends_on",
    "retry",
    "backoff",
    "max_backoff",
    "timeout",
    "own_task",
    "trigger_rule",
    "condition",
    "branches",
    "workflow",
    "repeat",
    "max_iterations",
    "until",
    "gate",
    "check",
    "max_attempts",
    "map_over",
    "concurrency",
    "collect_errors",
    "crate",
];

/// Names users reach for, and the option they mean.
const RENAMED: &[(&str, &str)] = &[
    ("after", "depends_on"),
    ("deps", "depends_on"),
    ("depends", "depends_on"),
    ("dependencies", "depends_on"),
    ("needs", "depends_on"),
    ("retries", "retry"),
    ("attempts", "retry"),
    ("max_attempts", "retry"),
    ("spawn", "own_task"),
    ("blocking", "own_task"),
    ("trigger", "trigger_rule"),
    ("when", "condition"),
    ("if", "condition"),
    ("loop", "repeat"),
    ("max", "max_iterations"),
    ("bound", "max_iterations"),
    ("sub_workflow", "workflow"),
    ("map", "map_over"),
    ("for_each", "map_over"),
];

/// The trigger rules, as written in `trigger_rule = "..."`, with the
/// variant of `TriggerRule` each names.
pub(crate) const TRIGGER_RULES: &[(&str, &str)] = &[
    ("all_success", "AllSuccess"),
    ("all_done", "AllDone"),
    ("one_success", "OneSuccess"),
    ("one_failed", "OneFailed"),
    ("none_failed", "NoneFailed"),
    ("none_failed_min_one_success", "NoneFailedMinOneSuccess"),
    ("always", "Always"),
];

/// The parsed `#[step(...)]` arguments.
#[derive(Default)]
pub(crate) struct StepArgs {
    pub(crate) depends_on: Vec<LitStr>,
    pub(crate) retry: Option<u32>,
    pub(crate) backoff: Option<u64>,
    pub(crate) max_backoff: Option<u64>,
    pub(crate) timeout: Option<u64>,
    pub(crate) own_task: bool,
    pub(crate) trigger_rule: Option<&'static str>,
    pub(crate) condition: Option<syn::Path>,
    pub(crate) branches: Vec<LitStr>,
    pub(crate) workflow: Option<syn::Path>,
    pub(crate) repeat: Option<syn::Path>,
    pub(crate) max_iterations: Option<u32>,
    pub(crate) until: Option<syn::Path>,
    pub(crate) gate: Option<syn::Path>,
    pub(crate) check: Option<LitStr>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) map_over: Option<LitStr>,
    pub(crate) concurrency: Option<u32>,
    pub(crate) collect_errors: bool,
    pub(crate) krate: Option<syn::Path>,
    /// Where each option was written, for errors about combinations.
    pub(crate) spans: Vec<(String, Span)>,
}

impl StepArgs {
    /// Where option `key` was written.
    pub(crate) fn span_of(&self, key: &str) -> Option<Span> {
        self.spans.iter().find(|(k, _)| k == key).map(|(_, s)| *s)
    }
}

/// Parses the attribute's arguments. Problems are recorded in `errors`;
/// whatever could be understood is returned, so the function is still
/// emitted.
pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> StepArgs {
    let mut parsed = StepArgs::default();
    let metas = match syn::parse::Parser::parse2(
        Punctuated::<Meta, Token![,]>::parse_terminated,
        args,
    ) {
        Ok(metas) => metas,
        Err(error) => {
            errors.push(syn::Error::new(
                error.span(),
                format!(
                    "{error}; `#[step]` takes options like `#[step(depends_on = \"scan\", retry = 3, timeout = \"30s\")]`"
                ),
            ));
            return parsed;
        }
    };

    let mut seen: Vec<(String, Span)> = Vec::new();
    for meta in metas {
        let path = meta.path();
        let key = match path.get_ident().filter(|_| !path_is_crate(path)) {
            Some(ident) => ident.to_string(),
            None if path_is_crate(path) => String::from("crate"),
            None => {
                errors.at(path, unknown_key_message(&quote::quote!(#path).to_string()));
                continue;
            }
        };
        if !KEYS.contains(&key.as_str()) {
            errors.at(path, unknown_key_message(&key));
            continue;
        }
        if seen.iter().any(|(k, _)| *k == key) {
            errors.at(
                path,
                format!("`{key}` is given twice in `#[step]`; keep only one"),
            );
            continue;
        }
        seen.push((key.clone(), path.span()));
        match key.as_str() {
            "depends_on" => {
                parsed.depends_on = parse_names(
                    &meta,
                    "depends_on",
                    "depends_on = \"scan\"` or `depends_on = [\"scan\", \"lint\"]",
                    errors,
                )
            }
            "retry" => parsed.retry = parse_retry(&meta, errors),
            "backoff" => parsed.backoff = parse_duration(&meta, "backoff", errors),
            "max_backoff" => parsed.max_backoff = parse_duration(&meta, "max_backoff", errors),
            "timeout" => parsed.timeout = parse_duration(&meta, "timeout", errors),
            "own_task" => parsed.own_task = parse_flag(&meta, "own_task", errors),
            "collect_errors" => parsed.collect_errors = parse_flag(&meta, "collect_errors", errors),
            "trigger_rule" => parsed.trigger_rule = parse_trigger_rule(&meta, errors),
            "condition" => {
                parsed.condition = parse_path(&meta, "condition", "condition = has_changes", errors)
            }
            "branches" => {
                parsed.branches = parse_names(
                    &meta,
                    "branches",
                    "branches = [\"quick\", \"deep\"]",
                    errors,
                )
            }
            "workflow" => {
                parsed.workflow = parse_path(&meta, "workflow", "workflow = Child", errors)
            }
            "repeat" => {
                parsed.repeat = parse_path(&meta, "repeat", "repeat = TddIteration", errors)
            }
            "max_iterations" => {
                parsed.max_iterations = parse_count(&meta, "max_iterations", errors)
            }
            "until" => parsed.until = parse_path(&meta, "until", "until = tests_pass", errors),
            "gate" => parsed.gate = parse_path(&meta, "gate", "gate = Drafting", errors),
            "check" => parsed.check = parse_name(&meta, "check", "check = \"review\"", errors),
            "max_attempts" => parsed.max_attempts = parse_count(&meta, "max_attempts", errors),
            "map_over" => {
                parsed.map_over = parse_name(&meta, "map_over", "map_over = \"files\"", errors)
            }
            "concurrency" => parsed.concurrency = parse_count(&meta, "concurrency", errors),
            "crate" => parsed.krate = parse_crate(&meta, errors),
            _ => {}
        }
    }
    parsed.spans = seen;
    parsed
}

fn parse_path(meta: &Meta, key: &str, example: &str, errors: &mut Errors) -> Option<syn::Path> {
    let value = value(meta, key, example, errors)?;
    if let Expr::Path(path) = value {
        return Some(path.path.clone());
    }
    errors.at(
        value,
        format!("`{key}` takes a path, without quotes: write `{example}`"),
    );
    None
}

fn parse_count(meta: &Meta, key: &str, errors: &mut Errors) -> Option<u32> {
    let example = format!("{key} = 5");
    let value = value(meta, key, &example, errors)?;
    let count = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<u32>().ok().filter(|n| *n >= 1),
        _ => None,
    };
    if count.is_none() {
        errors.at(
            value,
            format!("`{key}` takes a whole number from 1 up: write `{example}`"),
        );
    }
    count
}

fn parse_name(meta: &Meta, key: &str, example: &str, errors: &mut Errors) -> Option<LitStr> {
    let value = value(meta, key, example, errors)?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
        && syn::parse_str::<syn::Ident>(&lit.value()).is_ok()
    {
        return Some(lit.clone());
    }
    errors.at(
        value,
        format!("`{key}` takes a step name as a string: write `{example}`"),
    );
    None
}

fn parse_names(meta: &Meta, key: &str, example: &str, errors: &mut Errors) -> Vec<LitStr> {
    let Some(value) = value(meta, key, example, errors) else {
        return Vec::new();
    };
    let items: Vec<&Expr> = match value {
        Expr::Array(array) => array.elems.iter().map(ungrouped).collect(),
        other => vec![other],
    };
    let mut names: Vec<LitStr> = Vec::new();
    for item in items {
        let Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) = item
        else {
            errors.at(
                item,
                format!("`{key}` takes step names as strings: write `{example}`"),
            );
            continue;
        };
        let name = lit.value();
        if syn::parse_str::<syn::Ident>(&name).is_err() {
            errors.at(
                lit,
                format!(
                    "`{name}` is not a step name; a step is named after its function, like `scan`"
                ),
            );
        } else if names.iter().any(|n| n.value() == name) {
            errors.at(
                lit,
                format!("`{name}` is listed twice in `{key}`; remove one"),
            );
        } else {
            names.push(lit.clone());
        }
    }
    names
}

fn path_is_crate(path: &syn::Path) -> bool {
    path.segments.len() == 1 && path.leading_colon.is_none() && path.segments[0].ident == "crate"
}

fn unknown_key_message(key: &str) -> String {
    let hint = RENAMED
        .iter()
        .find(|(old, _)| *old == key)
        .map(|(_, new)| (*new).to_owned())
        .or_else(|| {
            orchestrator_core::graph::closest_name(key, KEYS.iter().copied()).map(str::to_owned)
        });
    let valid = KEYS
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match hint {
        Some(hint) => format!(
            "unknown `#[step]` option `{key}`; did you mean `{hint}`? The valid options are {valid}"
        ),
        None => format!("unknown `#[step]` option `{key}`; the valid options are {valid}"),
    }
}

/// `expr` without the invisible groups a `macro_rules!` wraps around a
/// fragment it passes on (a `$name:literal` in `depends_on = [$name]`).
fn ungrouped(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => ungrouped(&group.expr),
        other => other,
    }
}

fn value<'a>(meta: &'a Meta, key: &str, example: &str, errors: &mut Errors) -> Option<&'a Expr> {
    match meta {
        Meta::NameValue(nv) => Some(ungrouped(&nv.value)),
        _ => {
            errors.at(meta, format!("`{key}` needs a value: write `{example}`"));
            None
        }
    }
}

fn parse_retry(meta: &Meta, errors: &mut Errors) -> Option<u32> {
    const EXAMPLE: &str = "retry = 3";
    let value = value(meta, "retry", EXAMPLE, errors)?;
    let attempts = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<u32>().ok().filter(|n| *n >= 1),
        _ => None,
    };
    if attempts.is_none() {
        errors.at(
            value,
            format!(
                "`retry` takes the number of attempts in all, a whole number from 1 up: write `{EXAMPLE}`"
            ),
        );
    }
    attempts
}

fn parse_duration(meta: &Meta, key: &str, errors: &mut Errors) -> Option<u64> {
    let example = format!("{key} = \"30s\"");
    let value = value(meta, key, &example, errors)?;
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => {
            let nanos = parse_nanos(&lit.value());
            if nanos.is_none() {
                errors.at(
                    lit,
                    format!(
                        "`{}` is not a duration; write it like \"30s\", \"500ms\", \"2m\", \"1h\" or \"1m 30s\"",
                        lit.value()
                    ),
                );
            }
            nanos
        }
        other => {
            errors.at(
                other,
                format!("`{key}` takes a duration as a string: write `{example}`"),
            );
            None
        }
    }
}

fn parse_flag(meta: &Meta, key: &str, errors: &mut Errors) -> bool {
    match meta {
        Meta::Path(_) => true,
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => b.value,
            other => {
                errors.at(
                    other,
                    format!("`{key}` takes no value (or `true`/`false`): write `{key}`"),
                );
                false
            }
        },
        Meta::List(list) => {
            errors.at(list, format!("`{key}` takes no arguments: write `{key}`"));
            false
        }
    }
}

fn parse_trigger_rule(meta: &Meta, errors: &mut Errors) -> Option<&'static str> {
    let names = TRIGGER_RULES
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let value = value(meta, "trigger_rule", "trigger_rule = \"all_done\"", errors)?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    {
        let text = lit.value();
        if let Some((_, variant)) = TRIGGER_RULES.iter().find(|(n, _)| *n == text) {
            return Some(variant);
        }
        let hint =
            orchestrator_core::graph::closest_name(&text, TRIGGER_RULES.iter().map(|(n, _)| *n))
                .map(|n| format!("did you mean \"{n}\"? "))
                .unwrap_or_default();
        errors.at(
            lit,
            format!("unknown trigger rule \"{text}\"; {hint}the rules are {names}"),
        );
        return None;
    }
    errors.at(
        value,
        format!("`trigger_rule` takes a string, one of {names}"),
    );
    None
}

fn parse_crate(meta: &Meta, errors: &mut Errors) -> Option<syn::Path> {
    let value = value(meta, "crate", "crate = \"my_orchestrator\"", errors)?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
        && let Ok(path) = lit.parse::<syn::Path>()
    {
        return Some(path);
    }
    errors.at(
        value,
        "`crate` takes the path of the `orchestrator` crate as a string: write `crate = \"my_orchestrator\"`",
    );
    None
}
