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
}

impl ParamKind {
    fn keyword(self) -> &'static str {
        match self {
            Self::Dependency => "dep",
            Self::Input => "input",
            Self::Resource => "resource",
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
    let depends_on = own_dependencies(&func, &args, &mut errors);
    let params = params(&mut func, &depends_on, &mut errors);

    let compile_errors = errors.to_compile_errors();
    let description = describe(&func, &args, &depends_on, &params, output.as_ref());
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
fn params(func: &mut ItemFn, depends_on: &[LitStr], errors: &mut Errors) -> Vec<Param> {
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
    params
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
    let output = match output {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };

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

    let param_impls = params.iter().enumerate().map(|(index, param)| {
        let referent = &param.referent;
        quote! {
            impl #krate::__private::Param<#index> for #ident {
                type Type = #referent;
            }
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
    let meta = quote!({ #ident [#(#deps)*] [#(#meta_params)*] });

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
            fn configure(step: #krate::StepBuilder<'_>) -> #krate::StepBuilder<'_> {
                step.depends_on(<Self as #krate::__private::Step>::DEPENDS_ON.iter().copied())
                    #(#configure)*
            }
        }

        #(#param_impls)*

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
