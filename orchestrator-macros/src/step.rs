//! `#[step]`: checks an async function, emits it unchanged, and describes it
//! to `workflow!`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::{FnArg, GenericParam, ItemFn, LitStr, Pat, ReturnType, Type};

use crate::attr::{self, StepArgs};
use crate::errors::Errors;
use crate::krate;

/// What a parameter of a step receives.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// The output of the dependency named like the parameter.
    Dependency,
    /// The workflow's input.
    Input,
    /// A shared resource, looked up by type.
    Resource,
    /// One item of the list a map step is mapped over.
    Each,
}

impl ParamKind {
    fn keyword(self) -> &'static str {
        match self {
            Self::Dependency => "dep",
            Self::Input => "input",
            Self::Resource => "resource",
            Self::Each => "each",
        }
    }
}

/// A checked parameter.
struct Param {
    ident: syn::Ident,
    kind: ParamKind,
    /// `T` of `&T`, as written: its span is where type errors point.
    referent: Type,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = attr::parse(args, &mut errors);
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.at_span(
                Span::call_site(),
                "`#[step]` goes on an `async fn` that returns `Result<T, E>`",
            );
            let compile_errors = errors.to_compile_errors();
            return quote!(#item #compile_errors);
        }
    };

    check_signature(&func, &mut errors);
    let output = output_type(&func, &mut errors);
    let kind = kind(&args, &mut errors);
    let mut depends_on = own_dependencies(&func, &args, &mut errors);
    if let Kind::Map { over, .. } = &kind
        && !depends_on.iter().any(|d| d.value() == over.value())
    {
        depends_on.push(over.clone());
    }
    let params = params(&mut func, &depends_on, &kind, &mut errors);

    let compile_errors = errors.to_compile_errors();
    let description = describe(&func, &args, &kind, &depends_on, &params, output.as_ref());
    quote! {
        #func
        #description
        #compile_errors
    }
}

fn check_signature(func: &ItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token,
            format!(
                "a step must be an `async fn`; write `async fn {}(...)`",
                sig.ident
            ),
        );
    }
    for param in &sig.generics.params {
        if !matches!(param, GenericParam::Lifetime(_)) {
            errors.at(
                param,
                "a step cannot have type or const parameters; give it concrete types",
            );
        }
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, "a step cannot be variadic");
    }
}

/// The `T` of `Result<T, E>` (or `Result<T>` of an alias).
fn output_type(func: &ItemFn, errors: &mut Errors) -> Option<Type> {
    let message = |written: Option<&Type>| {
        let example = written.map_or_else(|| String::from("u32"), |ty| quote!(#ty).to_string());
        format!(
            "a step must return `Result<T, E>`, where `T` is its output (passed to the steps that depend on it) and `E` its error: write `-> Result<{example}, MyError>`"
        )
    };
    let ty = match &func.sig.output {
        ReturnType::Default => {
            errors.at(&func.sig.ident, message(None));
            return None;
        }
        ReturnType::Type(_, ty) => ty,
    };
    if let Type::Path(path) = &**ty
        && let Some(last) = path.path.segments.last()
        && last.ident == "Result"
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(syn::GenericArgument::Type(output)) = args.args.first()
    {
        return Some(output.clone());
    }
    errors.at(ty, message(Some(ty)));
    None
}

/// The step's dependencies, minus a dependency on itself (reported here).
fn own_dependencies(func: &ItemFn, args: &StepArgs, errors: &mut Errors) -> Vec<LitStr> {
    let name = func.sig.ident.unraw().to_string();
    args.depends_on
        .iter()
        .filter(|dep| {
            if dep.value() == name {
                errors.at(
                    dep,
                    format!(
                        "cycle (1/1): `{name} -> {name}`: step `{name}` depends on itself; remove \"{name}\" from its `depends_on`"
                    ),
                );
                false
            } else {
                true
            }
        })
        .cloned()
        .collect()
}

/// Checks and classifies the parameters, removing our `#[input]` and
/// `#[resource]` markers from the emitted function.
fn params(
    func: &mut ItemFn,
    depends_on: &[LitStr],
    kind: &Kind,
    errors: &mut Errors,
) -> Vec<Param> {
    let each = match kind {
        Kind::Map { over, .. } => Some(over.value()),
        _ => None,
    };
    let step = func.sig.ident.unraw().to_string();
    let dep_names: Vec<String> = depends_on.iter().map(LitStr::value).collect();
    let mut params: Vec<Param> = Vec::new();
    let mut input: Option<syn::Ident> = None;
    for arg in func.sig.inputs.iter_mut() {
        let typed = match arg {
            FnArg::Receiver(receiver) => {
                errors.at(
                    &*receiver,
                    "a step is a free function; `self` is not supported, pass state as a `#[resource]` parameter",
                );
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let mut marker = None;
        typed.attrs.retain(|attr| {
            for name in ["input", "resource"] {
                if attr.path().is_ident(name) {
                    marker = Some((name, attr.span()));
                    return false;
                }
            }
            true
        });
        let ident = match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
            other => {
                errors.at(
                    other,
                    "a step parameter must be a plain name, like `scan: &ScanReport`; destructure it inside the function",
                );
                continue;
            }
        };
        let name = ident.unraw().to_string();
        let referent = match &*typed.ty {
            Type::Reference(reference) if reference.mutability.is_none() => {
                (*reference.elem).clone()
            }
            other => {
                let inner = match other {
                    Type::Reference(reference) => &*reference.elem,
                    other => other,
                };
                errors.at(
                    other,
                    format!(
                        "step parameters are read-only and taken by shared reference: write `{name}: &{}`",
                        quote!(#inner)
                    ),
                );
                continue;
            }
        };
        let is_dependency = dep_names.contains(&name);
        let kind = match marker {
            Some(("resource", _)) => ParamKind::Resource,
            Some((_, _)) => ParamKind::Input,
            None if each.as_deref() == Some(name.as_str()) => ParamKind::Each,
            None if is_dependency => ParamKind::Dependency,
            None => {
                if let Some(close) = orchestrator_core::graph::closest_name(
                    &name,
                    dep_names.iter().map(String::as_str),
                ) {
                    errors.at(
                        &ident,
                        format!(
                            "parameter `{name}` matches no dependency of `{step}`; did you mean `{close}`? (mark it `#[input]` if it is the workflow's input)"
                        ),
                    );
                    continue;
                }
                ParamKind::Input
            }
        };
        if kind == ParamKind::Input {
            if let Some(first) = &input {
                let deps = if dep_names.is_empty() {
                    String::from("has no dependencies")
                } else {
                    format!("depends on {}", quoted_list(&dep_names))
                };
                errors.at(
                    &ident,
                    format!(
                        "parameter `{name}` matches no dependency of `{step}` (which {deps}) and `{first}` already takes the workflow's input; name it after a step in `depends_on`, or mark it `#[resource]` for a shared resource"
                    ),
                );
                continue;
            }
            input = Some(ident.clone());
        }
        params.push(Param {
            ident,
            kind,
            referent,
        });
    }
    if let Kind::Map { over, .. } = kind
        && !params.iter().any(|p| p.kind == ParamKind::Each)
    {
        errors.at(
            over,
            format!(
                "`map_over = \"{0}\"` runs `{step}` once per item of `{0}`'s output: add a parameter `{0}: &Item` that takes one item",
                over.value()
            ),
        );
    }
    params
}

/// What kind of step this is.
pub(crate) enum Kind {
    /// Runs the function once; its `T` is the output.
    Plain,
    /// Runs the function once for the input of a nested workflow.
    Workflow(syn::Path),
    /// A bounded loop over a workflow.
    Loop {
        body: syn::Path,
        max_iterations: u32,
        until: syn::Path,
    },
    /// A gate over a workflow and its check step.
    Gate {
        checked: syn::Path,
        check: LitStr,
        max_attempts: u32,
    },
    /// Runs the function once per item of a dependency's output.
    Map {
        over: LitStr,
        concurrency: u32,
        collect_errors: bool,
    },
}

/// Reads the step's kind from its options, reporting options that do not
/// go together and loops without a bound.
fn kind(args: &StepArgs, errors: &mut Errors) -> Kind {
    let span = |key: &str| args.span_of(key).unwrap_or_else(Span::call_site);
    let chosen: Vec<&str> = ["workflow", "repeat", "gate", "map_over"]
        .into_iter()
        .filter(|key| args.span_of(key).is_some())
        .collect();
    if let [first, second, ..] = chosen.as_slice() {
        errors.at_span(
            span(second),
            format!(
                "`{second}` cannot go with `{first}`: a step is one of a sub-workflow (`workflow = ...`), a loop (`repeat = ...`), a gate (`gate = ...`) or a map (`map_over = ...`)"
            ),
        );
    }
    let belongs = |errors: &mut Errors, key: &str, owner: &str, example: &str| {
        if args.span_of(key).is_some() && !chosen.contains(&owner) {
            errors.at_span(
                span(key),
                format!("`{key}` belongs to a {example}; add `{owner} = ...` or remove `{key}`"),
            );
        }
    };
    belongs(errors, "max_iterations", "repeat", "loop");
    belongs(errors, "until", "repeat", "loop");
    belongs(errors, "check", "gate", "gate");
    belongs(errors, "max_attempts", "gate", "gate");
    belongs(errors, "concurrency", "map_over", "map");
    belongs(errors, "collect_errors", "map_over", "map");

    match chosen.first().copied() {
        Some("workflow") => args.workflow.clone().map_or(Kind::Plain, Kind::Workflow),
        Some("repeat") => {
            if args.max_iterations.is_none() && args.span_of("max_iterations").is_none() {
                errors.at_span(
                    span("repeat"),
                    "every loop needs a bound: add `max_iterations = N`, the most iterations it may run",
                );
            }
            if args.until.is_none() && args.span_of("until").is_none() {
                errors.at_span(
                    span("repeat"),
                    "a loop needs its condition: add `until = done`, a `fn(&RunReport) -> bool` that says when an iteration is the last",
                );
            }
            match (&args.repeat, args.max_iterations, &args.until) {
                (Some(body), Some(max_iterations), Some(until)) => Kind::Loop {
                    body: body.clone(),
                    max_iterations,
                    until: until.clone(),
                },
                _ => Kind::Plain,
            }
        }
        Some("gate") => {
            if args.check.is_none() && args.span_of("check").is_none() {
                errors.at_span(
                    span("gate"),
                    "a gate needs its check step: add `check = \"review\"`, the step of the checked workflow that returns a `Verdict`",
                );
            }
            if args.max_attempts.is_none() && args.span_of("max_attempts").is_none() {
                errors.at_span(
                    span("gate"),
                    "every gate needs a bound: add `max_attempts = N`, the most attempts the checked steps get",
                );
            }
            match (&args.gate, &args.check, args.max_attempts) {
                (Some(checked), Some(check), Some(max_attempts)) => Kind::Gate {
                    checked: checked.clone(),
                    check: check.clone(),
                    max_attempts,
                },
                _ => Kind::Plain,
            }
        }
        Some("map_over") => match &args.map_over {
            Some(over) => Kind::Map {
                over: over.clone(),
                concurrency: args.concurrency.unwrap_or(16),
                collect_errors: args.collect_errors,
            },
            None => Kind::Plain,
        },
        _ => Kind::Plain,
    }
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The hidden items that describe the step: a type named like the function
/// implementing `Step` and `Param<I>`, and the macro `workflow!` calls to
/// read the step's metadata with the user's spans.
fn describe(
    func: &ItemFn,
    args: &StepArgs,
    kind: &Kind,
    depends_on: &[LitStr],
    params: &[Param],
    output: Option<&Type>,
) -> TokenStream {
    let krate = krate::path(args.krate.as_ref());
    // Workflows are made within the crate, so the hidden type is at most
    // `pub(crate)`: then its `Output` may be a crate-private type.
    let vis = match &func.vis {
        syn::Visibility::Public(_) => quote!(pub(crate)),
        other => quote!(#other),
    };
    let ident = &func.sig.ident;
    let name = ident.unraw().to_string();
    let returned = match output {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    let private = quote!(#krate::__private);
    let output = match kind {
        Kind::Plain => returned.clone(),
        Kind::Workflow(path) => {
            let path = companion(path);
            quote!(<#path as #private::WorkflowType>::Output)
        }
        Kind::Loop { .. } | Kind::Gate { .. } => quote!(#krate::patterns::Repeated),
        Kind::Map {
            collect_errors: false,
            ..
        } => quote!(::std::vec::Vec<#returned>),
        Kind::Map {
            collect_errors: true,
            ..
        } => quote!(::std::vec::Vec<::core::result::Result<#returned, #krate::StepFailure>>),
    };
    let composite = composite(&krate, ident, kind, &returned, output_span(func));
    let branch_check = (!args.branches.is_empty()).then(|| {
        let span = output_span(func);
        quote_spanned! {span=>
            const _: fn(#returned) -> #krate::Branch = |__orchestrator_branch| __orchestrator_branch;
        }
    });

    let mut configure = Vec::new();
    if let Some(attempts) = args.retry {
        let mut policy = quote!(#krate::RetryPolicy::attempts(#attempts));
        if args.backoff.is_some() || args.max_backoff.is_some() {
            let initial = args.backoff.unwrap_or(100_000_000);
            let max = args.max_backoff.unwrap_or(10_000_000_000).max(initial);
            policy = quote!(#policy.backoff(
                ::core::time::Duration::from_nanos(#initial),
                ::core::time::Duration::from_nanos(#max),
            ));
        }
        configure.push(quote!(.retry(#policy)));
    }
    if let Some(nanos) = args.timeout {
        configure.push(quote!(.timeout(::core::time::Duration::from_nanos(#nanos))));
    }
    if args.own_task {
        configure.push(quote!(.own_task()));
    }
    if let Some(variant) = args.trigger_rule {
        let variant = format_ident!("{}", variant);
        configure.push(quote!(.trigger_rule(#krate::TriggerRule::#variant)));
    }
    if let Some(condition) = &args.condition {
        configure.push(quote!(.condition(#condition)));
    }

    let param_impls = params.iter().enumerate().map(|(index, param)| {
        let referent = &param.referent;
        quote! {
            impl #krate::__private::Param<#index> for #ident {
                type Type = #referent;
            }
        }
    });

    // The workflow's input type under a name of its own, next to the
    // function: `workflow!` names the input through it, not through the
    // hidden type, which is as private as the function and would make a
    // `pub` workflow's `run` (or any use of it from another module) name a
    // private type.
    let input_alias = params
        .iter()
        .find(|param| param.kind == ParamKind::Input)
        .map(|param| {
            let referent = &param.referent;
            let alias = input_alias(&syn::Path::from(ident.clone()));
            quote! {
                #[doc(hidden)]
                #[allow(non_camel_case_types, private_interfaces, unreachable_pub, dead_code)]
                pub(crate) type #alias = <#referent as #krate::__private::Owned>::Owned;
            }
        });

    let meta_params = params.iter().enumerate().map(|(index, param)| {
        let param_ident = &param.ident;
        let kind = format_ident!("{}", param.kind.keyword());
        let ty = &param.referent;
        quote!((#param_ident #kind #index [#ty]))
    });
    let macro_name = format_ident!("__orchestrator_step_{}", name);
    let deps = depends_on;
    let kind_meta = match kind {
        Kind::Plain => quote!(plain),
        Kind::Workflow(_) | Kind::Loop { .. } | Kind::Gate { .. } => quote!(composite),
        Kind::Map {
            concurrency,
            collect_errors,
            ..
        } => {
            let concurrency = *concurrency as usize;
            if *collect_errors {
                quote!(map_collect(#concurrency))
            } else {
                quote!(map(#concurrency))
            }
        }
    };
    let branches = &args.branches;
    let meta = quote!({ #ident [#(#deps)*] [#(#meta_params)*] #kind_meta [#(#branches)*] });

    let doc = format!(
        "The step `{name}`: implements `Step`, so `workflow!` can use the function `{name}`."
    );
    let struct_span = ident.span();
    let struct_def = quote_spanned! {struct_span=>
        #[doc = #doc]
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code, unreachable_pub)]
        #vis struct #ident {}
    };
    quote! {
        #struct_def

        impl #krate::__private::Step for #ident {
            type Output = #output;
            const NAME: &'static str = #name;
            const DEPENDS_ON: &'static [&'static str] = &[#(#deps),*];
            fn configure(__orchestrator_step: #krate::StepBuilder<'_>) -> #krate::StepBuilder<'_> {
                __orchestrator_step.depends_on(<Self as #krate::__private::Step>::DEPENDS_ON.iter().copied())
                    #(#configure)*
            }
        }

        #(#param_impls)*

        #input_alias

        #composite
        #branch_check

        #[doc(hidden)]
        macro_rules! #macro_name {
            ([$($krate:tt)*] $spec:tt [$($done:tt)*] []) => {
                $($krate)*::__private::workflow_finish! { [$($krate)*] $spec [$($done)* #meta] }
            };
            ([$($krate:tt)*] $spec:tt [$($done:tt)*] [$($next:ident)::+ $(, $($rest:ident)::+)*]) => {
                $($next)::+ ! { [$($krate)*] $spec [$($done)* #meta] [$($($rest)::+),*] }
            };
        }
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #macro_name as #ident;
    }
}

/// The span of the function's return type (or name), for type checks.
fn output_span(func: &ItemFn) -> Span {
    match &func.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => func.sig.ident.span(),
    }
}

/// `path` with its last segment renamed `{prefix}{name}`: where the macros
/// put a hidden item next to a user's item (`format_ident!` drops an `r#`).
fn prefixed(path: &syn::Path, prefix: &str) -> syn::Path {
    let mut path = path.clone();
    if let Some(last) = path.segments.last_mut() {
        last.ident = format_ident!("{}{}", prefix, last.ident, span = last.ident.span());
    }
    path
}

/// The workflow input's type alias that `#[step]` emits next to a step
/// function taking the input: `a::scan` becomes `a::__orchestrator_input_scan`.
pub(crate) fn input_alias(path: &syn::Path) -> syn::Path {
    prefixed(path, "__orchestrator_input_")
}

/// The hidden companion of a `workflow!` type that implements
/// `WorkflowType` (at most `pub(crate)`, so it may name crate-private
/// step types): `a::Child` becomes `a::__orchestrator_workflow_Child`.
pub(crate) fn companion(path: &syn::Path) -> syn::Path {
    prefixed(path, "__orchestrator_workflow_")
}

/// For sub-workflow, loop and gate steps: how the function's value becomes
/// the step's output, by running the nested workflow.
fn composite(
    krate: &TokenStream,
    ident: &syn::Ident,
    kind: &Kind,
    returned: &TokenStream,
    returned_span: Span,
) -> TokenStream {
    let private = quote!(#krate::__private);
    // Type checks between the function's value and the nested workflow's
    // input point at the function's return type.
    let at = Span::call_site().located_at(returned_span);
    let body = match kind {
        Kind::Plain | Kind::Map { .. } => return TokenStream::new(),
        Kind::Workflow(path) => {
            let path = companion(path);
            let value = quote_spanned!(at=> __orchestrator_value);
            quote! {
            let __orchestrator_value: <#path as #private::WorkflowType>::Input = #value;
            let __orchestrator_report = __orchestrator_ctx
                .run_workflow(<#path as #private::WorkflowType>::workflow(), __orchestrator_value)
                .await?;
            ::core::result::Result::Ok(<#path as #private::WorkflowType>::from_report(__orchestrator_report)?)
            }
        }
        Kind::Loop {
            body,
            max_iterations,
            until,
        } => {
            let body = companion(body);
            let check = quote_spanned! {at=>
                ::core::marker::PhantomData::<#krate::patterns::Iteration<#returned>>
            };
            quote! {
            let _: ::core::marker::PhantomData<<#body as #private::WorkflowType>::Input> = #check;
            #krate::patterns::run_loop(
                __orchestrator_ctx,
                <#body as #private::WorkflowType>::workflow(),
                #max_iterations,
                #until,
                __orchestrator_value,
            )
            .await
            }
        }
        Kind::Gate {
            checked,
            check,
            max_attempts,
        } => {
            let checked = companion(checked);
            let check_input = quote_spanned! {at=>
                ::core::marker::PhantomData::<#krate::patterns::Iteration<#returned>>
            };
            quote! {
            let _: ::core::marker::PhantomData<<#checked as #private::WorkflowType>::Input> = #check_input;
            #krate::patterns::run_gate(
                __orchestrator_ctx,
                <#checked as #private::WorkflowType>::workflow(),
                #check,
                #max_attempts,
                __orchestrator_value,
            )
            .await
            }
        }
    };
    quote! {
        impl #private::Composite for #ident {
            type Returned = #returned;
            fn finish(
                __orchestrator_ctx: &#krate::StepContext,
                __orchestrator_value: #returned,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<
                    <Self as #private::Step>::Output,
                    #krate::BoxError,
                >,
            > + ::core::marker::Send + '_ {
                async move { #body }
            }
        }
    }
}
