//! `workflow!`: the list of steps, the chain of step macros that gathers
//! their metadata with the user's spans, and the final check and expansion.
//!
//! `workflow!(CodeReview: scan, review)` expands (through the facade's
//! `macro_rules!` wrapper, which supplies `$crate`) to `workflow_entry!`,
//! which calls the first step's hidden macro; each step macro appends its
//! metadata and calls the next one; the last calls `workflow_finish!` with
//! everything, which checks the graph and generates the code.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, LitStr, Token, Visibility, braced, bracketed, parenthesized};

use crate::errors::Errors;
use crate::step::ParamKind;
use crate::{check, expand};

/// What the user wrote in `workflow!`.
pub(crate) struct Spec {
    pub(crate) krate: TokenStream,
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
    pub(crate) steps: Vec<syn::Path>,
}

const SYNTAX: &str = "write `workflow!(pub CodeReview: scan, review, fix)`: a name for the workflow type, a colon, then the `#[step]` functions";

impl Spec {
    /// Parses `[krate] #[attrs] vis Name ...` up to and excluding the steps.
    fn parse_head(
        input: ParseStream<'_>,
    ) -> syn::Result<(TokenStream, Vec<Attribute>, Visibility, Ident)> {
        let krate;
        bracketed!(krate in input);
        let krate: TokenStream = krate.parse()?;
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let name: Ident = input.parse().map_err(|e| {
            syn::Error::new(e.span(), format!("expected the workflow's name; {SYNTAX}"))
        })?;
        Ok((krate, attrs, vis, name))
    }
}

/// The input of `workflow_entry!`: `[krate] #[attrs] vis Name: a, b::c, d`.
impl Parse for Spec {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (krate, attrs, vis, name) = Self::parse_head(input)?;
        input.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(e.span(), format!("expected `:` after `{name}`; {SYNTAX}"))
        })?;
        let steps = Punctuated::<syn::Path, Token![,]>::parse_terminated_with(
            input,
            syn::Path::parse_mod_style,
        )
        .map_err(|e| syn::Error::new(e.span(), format!("{e}; {SYNTAX}")))?;
        Ok(Self {
            krate,
            attrs,
            vis,
            name,
            steps: steps.into_iter().collect(),
        })
    }
}

/// `workflow_entry!`: checks the list, then starts the chain of step macros.
pub(crate) fn entry(input: TokenStream) -> TokenStream {
    let spec: Spec = match syn::parse2(input) {
        Ok(spec) => spec,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let workflow = spec.name.to_string();
    if spec.steps.is_empty() {
        errors.at(
            &spec.name,
            format!("workflow `{workflow}` has no steps; list its `#[step]` functions after the colon: `workflow!({workflow}: scan, review)`"),
        );
    }
    let mut steps: Vec<syn::Path> = Vec::new();
    for path in &spec.steps {
        if path.leading_colon.is_some() {
            errors.at(
                path,
                "write the step's path without a leading `::` (for example `crate::review::scan`)",
            );
            continue;
        }
        let Some(name) = path.segments.last().map(|s| s.ident.to_string()) else {
            continue;
        };
        if let Some(first) = steps
            .iter()
            .find(|p| p.segments.last().is_some_and(|s| s.ident == name))
        {
            let first = quote!(#first).to_string().replace(' ', "");
            errors.at(
                path,
                format!("step `{name}` is listed twice in workflow `{workflow}` (first as `{first}`); step names must be unique, remove one"),
            );
            continue;
        }
        steps.push(path.clone());
    }

    let Spec {
        krate,
        attrs,
        vis,
        name,
        ..
    } = spec;
    let compile_errors = errors.to_compile_errors();
    let Some((first, rest)) = steps.split_first() else {
        return compile_errors;
    };
    quote! {
        #first ! { [#krate] { #(#attrs)* #vis #name ( #(#steps),* ) } [] [#(#rest),*] }
        #compile_errors
    }
}

/// One step's metadata, as the step's macro wrote it.
pub(crate) struct StepMeta {
    pub(crate) path: syn::Path,
    pub(crate) ident: Ident,
    pub(crate) deps: Vec<LitStr>,
    pub(crate) params: Vec<ParamMeta>,
    pub(crate) kind: StepKind,
    /// The dependents a branch step may choose.
    pub(crate) branches: Vec<LitStr>,
}

/// How the generated handler runs a step.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepKind {
    /// Calls the function; its value is the output.
    Plain,
    /// Calls the function, then `Composite::finish` with its value.
    Composite,
    /// Calls the function once per item, at most this many at once; with
    /// `true`, failed items are collected.
    Map(usize, bool),
}

/// One parameter's metadata.
pub(crate) struct ParamMeta {
    pub(crate) ident: Ident,
    pub(crate) kind: ParamKind,
    pub(crate) index: usize,
    /// The parameter's referent type as written (`T` of `&T`), for its span.
    pub(crate) ty: TokenStream,
}

/// The input of `workflow_finish!`.
pub(crate) struct Finish {
    pub(crate) krate: TokenStream,
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
    pub(crate) steps: Vec<StepMeta>,
}

impl Parse for Finish {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let krate;
        bracketed!(krate in input);
        let krate: TokenStream = krate.parse()?;
        let spec;
        braced!(spec in input);
        let attrs = spec.call(Attribute::parse_outer)?;
        let vis: Visibility = spec.parse()?;
        let name: Ident = spec.parse()?;
        let paths;
        parenthesized!(paths in spec);
        let paths = Punctuated::<syn::Path, Token![,]>::parse_terminated_with(
            &paths,
            syn::Path::parse_mod_style,
        )?;
        let metas;
        bracketed!(metas in input);
        let mut steps = Vec::new();
        for path in paths {
            let meta;
            braced!(meta in metas);
            let ident: Ident = meta.parse()?;
            let deps;
            bracketed!(deps in meta);
            let mut dep_lits = Vec::new();
            while !deps.is_empty() {
                dep_lits.push(deps.parse::<LitStr>()?);
            }
            let params;
            bracketed!(params in meta);
            let mut param_metas = Vec::new();
            while !params.is_empty() {
                let param;
                parenthesized!(param in params);
                let ident: Ident = param.parse()?;
                let kind: Ident = param.parse()?;
                let kind = match kind.to_string().as_str() {
                    "dep" => ParamKind::Dependency,
                    "input" => ParamKind::Input,
                    "each" => ParamKind::Each,
                    _ => ParamKind::Resource,
                };
                let index: syn::LitInt = param.parse()?;
                let ty;
                bracketed!(ty in param);
                param_metas.push(ParamMeta {
                    ident,
                    kind,
                    index: index.base10_parse()?,
                    ty: ty.parse()?,
                });
            }
            let kind: Ident = meta.parse()?;
            let kind = match kind.to_string().as_str() {
                "composite" => StepKind::Composite,
                kind @ ("map" | "map_collect") => {
                    let concurrency;
                    parenthesized!(concurrency in meta);
                    StepKind::Map(
                        concurrency.parse::<syn::LitInt>()?.base10_parse()?,
                        kind == "map_collect",
                    )
                }
                _ => StepKind::Plain,
            };
            let branches;
            bracketed!(branches in meta);
            let mut branch_lits = Vec::new();
            while !branches.is_empty() {
                branch_lits.push(branches.parse::<LitStr>()?);
            }
            steps.push(StepMeta {
                path,
                ident,
                deps: dep_lits,
                params: param_metas,
                kind,
                branches: branch_lits,
            });
        }
        Ok(Self {
            krate,
            attrs,
            vis,
            name,
            steps,
        })
    }
}

/// `workflow_finish!`: checks the whole graph, then generates the code.
pub(crate) fn finish(input: TokenStream) -> TokenStream {
    let finish: Finish = match syn::parse2(input) {
        Ok(finish) => finish,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let graph = check::graph(&finish, &mut errors);
    let code = expand::workflow(&finish, &graph, errors.is_empty());
    let compile_errors = errors.to_compile_errors();
    quote! {
        #code
        #compile_errors
    }
}
