//! The code `workflow!` generates: a unit type with `workflow()`,
//! `execute()` and `run()`, and a struct of typed outputs.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use crate::check::Graph;
use crate::step::ParamKind;
use crate::workflow::{Finish, ParamMeta, StepKind};

/// The span of `tokens` (a parameter's written type), so a type mismatch
/// is reported under the user's type. `Span::join` may fail: then the
/// first token's span.
fn type_span(tokens: &TokenStream) -> Span {
    let mut spans = tokens.clone().into_iter().map(|t| t.span());
    let Some(first) = spans.next() else {
        return Span::call_site();
    };
    spans.fold(first, |joined, next| joined.join(next).unwrap_or(joined))
}

pub(crate) fn workflow(finish: &Finish, graph: &Graph, checked: bool) -> TokenStream {
    let krate = &finish.krate;
    let private = quote!(#krate::__private);
    let Finish {
        attrs, vis, name, ..
    } = finish;
    let name_str = name.to_string();
    let output_name = format_ident!("{}Output", name);
    let output_name_str = output_name.to_string();
    let companion = format_ident!("__orchestrator_workflow_{}", name);
    let companion_vis = match vis {
        syn::Visibility::Public(_) => quote!(pub(crate)),
        other => quote!(#other),
    };

    // The workflow's input: the type of the first parameter that takes it,
    // by the alias `#[step]` emits next to that step's function (see
    // `step::input_alias`).
    let input_ty = finish
        .steps
        .iter()
        .find_map(|step| {
            step.params
                .iter()
                .any(|p| p.kind == ParamKind::Input)
                .then(|| {
                    let path = crate::step::input_alias(&step.path);
                    quote!(#path)
                })
        })
        .unwrap_or_else(|| quote!(()));

    let handlers: Vec<TokenStream> = (0..finish.steps.len())
        .map(|index| {
            let body = step_body(
                finish,
                graph,
                index,
                &input_ty,
                Access::Context,
                Maker::Async,
            );
            quote! {
                |__orchestrator_ctx: #krate::StepContext| async move {
                    let __orchestrator_result = #body;
                    ::core::result::Result::map(__orchestrator_result, #private::erase)
                }
            }
        })
        .collect();
    let static_fns = checked
        .then(|| static_run(finish, graph, &input_ty, &output_name, &companion))
        .flatten();
    let static_call = static_fns.as_ref().map(|_| {
        quote! {
            if #companion::__orchestrator_static_fits() {
                if let ::core::option::Option::Some(__orchestrator_run) =
                    #private::StaticRun::begin(engine, Self::workflow())
                {
                    return #companion::__orchestrator_start_static(__orchestrator_run, &input).await;
                }
            }
        }
    });
    let static_impl = static_fns.map(|fns| {
        quote! {
            impl #companion {
                #fns
            }
        }
    });
    // One function per step: each is type-checked on its own, so the
    // compile time grows linearly with the number of steps (a single body
    // with every handler's closure grows quadratically).
    let adders: Vec<_> = (0..finish.steps.len())
        .map(|i| format_ident!("__orchestrator_add_step{}", i))
        .collect();
    let add_steps =
        finish
            .steps
            .iter()
            .zip(&handlers)
            .zip(&adders)
            .map(|((step, handler), adder)| {
                let path = &step.path;
                quote! {
                    fn #adder(__orchestrator_wf: &mut #krate::Workflow) {
                        let _ = <#path as #private::Step>::configure(#private::add_step::<
                            <#path as #private::Step>::Output,
                            _,
                            _,
                        >(
                            __orchestrator_wf,
                            <#path as #private::Step>::NAME,
                            #handler,
                        ));
                    }
                }
            });

    let fields = finish.steps.iter().map(|step| {
        let ident = &step.ident;
        let path = &step.path;
        let doc = format!("The output of step `{ident}`.");
        quote! {
            #[doc = #doc]
            #vis #ident: #krate::StepOutput<<#path as #private::Step>::Output>
        }
    });
    // The outputs are read into one tuple and matched once: an early return
    // per field would make the compiler emit a quadratic number of drops.
    let lookups = finish.steps.iter().enumerate().map(|(index, step)| {
        let path = &step.path;
        let step_name = step.ident.to_string();
        quote! {
            #private::output_at::<<#path as #private::Step>::Output>(
                &__orchestrator_report,
                #index,
                #step_name,
            )
        }
    });
    let idents: Vec<_> = finish.steps.iter().map(|step| &step.ident).collect();
    let names: Vec<String> = idents.iter().map(|i| i.to_string()).collect();

    let output_doc = format!(
        "The typed outputs of every step of a successful run of [`{name}`], and its report."
    );
    let run_doc = format!(
        "Runs `{name}` on `engine` with `input`; the typed outputs of every step, or an error listing every step that did not succeed."
    );
    quote! {
        #(#attrs)*
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::default::Default)]
        #vis struct #name;

        #[doc = #output_doc]
        #[allow(dead_code)]
        #vis struct #output_name {
            #(#fields,)*
            __orchestrator_report: #private::LazyReport,
        }

        impl #name {
            /// The workflow's name.
            #vis const NAME: &'static str = #name_str;

            /// The workflow as a runtime `Workflow`, built once: for
            /// analysis, pictures, or running it with options.
            #vis fn workflow() -> &'static #krate::Workflow {
                static __ORCHESTRATOR_WORKFLOW: ::std::sync::OnceLock<#krate::Workflow> =
                    ::std::sync::OnceLock::new();
                #(#add_steps)*
                __ORCHESTRATOR_WORKFLOW.get_or_init(|| {
                    let mut __orchestrator_wf = #krate::Workflow::new(#name_str);
                    #( #adders(&mut __orchestrator_wf); )*
                    __orchestrator_wf
                })
            }

            /// A run of the workflow on `engine` with `input`, to set run
            /// options (timeout, cancellation, ...) before awaiting it.
            #vis fn execute(engine: &#krate::WorkflowEngine, input: #input_ty) -> #krate::Execution {
                engine.execute(Self::workflow()).input(input)
            }

            #[doc = #run_doc]
            #vis async fn run(
                engine: &#krate::WorkflowEngine,
                input: #input_ty,
            ) -> ::core::result::Result<#output_name, #krate::RunError> {
                #static_call
                Self::run_with(Self::execute(engine, input)).await
            }

            /// Runs `execution` (made by `execute`, with its options) and
            /// returns the typed outputs of every step.
            #vis async fn run_with(
                execution: #krate::Execution,
            ) -> ::core::result::Result<#output_name, #krate::RunError> {
                let __orchestrator_report = Self::report_with(execution).await?;
                #output_name::from_report(__orchestrator_report)
            }

            /// Runs `execution` and returns the report whatever the steps
            /// did (the same as awaiting `execution`).
            #vis async fn report_with(
                execution: #krate::Execution,
            ) -> ::core::result::Result<#krate::RunReport, #krate::WorkflowError> {
                execution.await
            }
        }

        impl ::core::fmt::Debug for #output_name {
            fn fmt(&self, __orchestrator_f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                __orchestrator_f.debug_struct(#output_name_str)
                    .field("report", self.report())
                    .finish_non_exhaustive()
            }
        }

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #companion_vis struct #companion;

        #static_impl

        impl #private::WorkflowType for #companion {
            type Input = #input_ty;
            type Output = #output_name;
            fn workflow() -> &'static #krate::Workflow {
                #name::workflow()
            }
            fn from_report(
                __orchestrator_report: #krate::RunReport,
            ) -> ::core::result::Result<#output_name, #krate::RunError> {
                #output_name::from_report(__orchestrator_report)
            }
        }

        impl #output_name {
            /// The typed outputs of a report of this workflow, or an error
            /// listing every step that did not succeed.
            #vis fn from_report(
                report: #krate::RunReport,
            ) -> ::core::result::Result<Self, #krate::RunError> {
                let __orchestrator_report = #krate::RunError::from_report(report)?;
                let __orchestrator_outputs = ( #(#lookups,)* );
                match __orchestrator_outputs {
                    ( #(::core::option::Option::Some(#idents),)* ) => {
                        ::core::result::Result::Ok(Self {
                            #(#idents,)*
                            __orchestrator_report: #private::LazyReport::from(__orchestrator_report),
                        })
                    }
                    __orchestrator_outputs => {
                        let ( #(#idents,)* ) = __orchestrator_outputs;
                        let __orchestrator_missing = [ #( (#idents.is_none(), #names), )* ];
                        let __orchestrator_step = __orchestrator_missing
                            .iter()
                            .find(|(__orchestrator_is_missing, _)| *__orchestrator_is_missing)
                            .map_or("", |(_, __orchestrator_name)| *__orchestrator_name);
                        ::core::result::Result::Err(#krate::RunError::MissingOutput {
                            workflow: #name_str,
                            step: __orchestrator_step,
                        })
                    }
                }
            }

            /// The run's report: made the first time it is asked for
            /// when the run took the static path (its typed outputs are
            /// the fields above), then kept.
            #vis fn report(&self) -> &#krate::RunReport {
                self.__orchestrator_report.get(|| ::std::vec![
                    #( #private::erased(::core::option::Option::Some(&self.#idents)), )*
                ])
            }
        }
    }
}

/// Where a step's generated code reads its parameters from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// The runtime `StepContext` (`__orchestrator_ctx`), by name and type.
    Context,
    /// The static path's locals: each dependency's output slot
    /// (`__orchestrator_r{index}`), the input and the environment.
    Static,
    /// The fused static path's locals: each dependency's output
    /// (`__orchestrator_r{index}`, set before the step's future is made),
    /// the input and the environment.
    Fused,
}

/// The expression that runs step `index` once its parameters are read:
/// a block evaluating to `Result<Output, BoxError>`, returning early with
/// the error of a parameter that cannot be read. `None` for the static
/// path when the step cannot take it (a composite step, or a dependency
/// the graph check rejected).
fn step_body(
    finish: &Finish,
    graph: &Graph,
    index: usize,
    input_ty: &TokenStream,
    access: Access,
    maker: Maker,
) -> Option<TokenStream> {
    let krate = &finish.krate;
    let private = quote!(#krate::__private);
    let step = &finish.steps[index];
    let path = &step.path;
    let step_name = step.ident.to_string();
    if access != Access::Context && step.kind == StepKind::Composite {
        return None;
    }
    let mut lets = Vec::new();
    let mut direct = Vec::new();
    let mut args = Vec::new();
    let mut each = None;
    for param in &step.params {
        let span = Span::call_site().located_at(type_span(&param.ty));
        let arg = format_ident!("__orchestrator_arg{}", param.index, span = span);
        let param_index = param.index;
        let dep_name = param.ident.to_string();
        let dep = graph.dependency(finish, index, &dep_name);
        let dependency_output = || match dep {
            Some(dep) => {
                let dep_path = &finish.steps[dep].path;
                quote!(<#dep_path as #private::Step>::Output)
            }
            None => quote!(<#path as #private::Param<#param_index>>::Type),
        };
        let static_output = || -> Option<TokenStream> {
            let slot = read_ident(dep?);
            Some(quote!(#private::output(#slot, #step_name, #dep_name)))
        };
        let fused_value = || -> Option<TokenStream> {
            let value = read_ident(dep?);
            Some(quote!(&**#value))
        };
        let fused_output = || -> Option<TokenStream> {
            let value = fused_value()?;
            Some(quote!(::core::result::Result::<_, #krate::BoxError>::Ok(#value)))
        };
        // What a parameter of a `Maker::Direct` step reads, which cannot fail.
        if maker == Maker::Direct {
            direct.push(match param.kind {
                ParamKind::Input => quote!(__orchestrator_input),
                _ => fused_value()?,
            });
        }
        let getter = match (param.kind, access) {
            (ParamKind::Dependency | ParamKind::Each, Access::Static) => static_output()?,
            (ParamKind::Dependency | ParamKind::Each, Access::Fused) => fused_output()?,
            (ParamKind::Dependency, Access::Context) => {
                let output = dependency_output();
                quote!(__orchestrator_ctx.output::<#output>(#dep_name))
            }
            (ParamKind::Each, Access::Context) => {
                let output = match dep {
                    Some(_) => dependency_output(),
                    None => {
                        quote!(::std::vec::Vec<<#path as #private::Param<#param_index>>::Type>)
                    }
                };
                quote!(__orchestrator_ctx.output::<#output>(#dep_name))
            }
            (ParamKind::Input, Access::Context) => quote!(__orchestrator_ctx.input::<#input_ty>()),
            (ParamKind::Input, Access::Static | Access::Fused) => quote!(
                ::core::result::Result::<&#input_ty, #krate::BoxError>::Ok(__orchestrator_input)
            ),
            (ParamKind::Resource, Access::Context) => quote!(
                __orchestrator_ctx.resource::<<#path as #private::Param<#param_index>>::Type>()
            ),
            (ParamKind::Resource, Access::Static | Access::Fused) => quote!(
                __orchestrator_env.resource::<<#path as #private::Param<#param_index>>::Type>(#step_name)
            ),
        };
        // An `each` parameter reads the dependency's items; the function
        // gets them one by one (see `run` below).
        let binding = if param.kind == ParamKind::Each {
            each = Some(arg.clone());
            quote!(__orchestrator_items)
        } else {
            quote!(#arg)
        };
        // The static path's reads box their (cold) errors themselves: a
        // `ContextError` returned by value would be copied in every step.
        let fail = match access {
            Access::Context => {
                quote!(::core::result::Result::Err(#private::context_error(__orchestrator_error)))
            }
            Access::Static | Access::Fused => {
                quote!(::core::result::Result::Err(__orchestrator_error))
            }
        };
        lets.push((
            binding,
            quote! {
                match #getter {
                    ::core::result::Result::Ok(__orchestrator_value) => __orchestrator_value,
                    ::core::result::Result::Err(__orchestrator_error) => {
                        return #fail;
                    }
                }
            },
        ));
        args.push(quote_spanned!(span=> #arg));
    }
    let call = quote!(#path(#(#args),*));
    let run = match (step.kind, each) {
        (StepKind::Map(concurrency, false), Some(item)) => quote! {
            #krate::patterns::run_map(
                ::core::iter::IntoIterator::into_iter(__orchestrator_items),
                #concurrency,
                |#item| #call,
            )
            .await
        },
        (StepKind::Map(concurrency, true), Some(item)) => quote! {
            ::core::result::Result::Ok(
                #krate::patterns::run_map_collecting(
                    ::core::iter::IntoIterator::into_iter(__orchestrator_items),
                    #concurrency,
                    |#item| #call,
                )
                .await,
            )
        },
        (StepKind::Composite, _) => quote! {
            match #call.await {
                ::core::result::Result::Ok(__orchestrator_value) => {
                    <#path as #private::Composite>::finish(&__orchestrator_ctx, __orchestrator_value).await
                }
                ::core::result::Result::Err(__orchestrator_error) => ::core::result::Result::Err(
                    ::core::convert::Into::<#krate::BoxError>::into(__orchestrator_error),
                ),
            }
        },
        _ => quote! {
            match #call.await {
                ::core::result::Result::Ok(__orchestrator_value) => {
                    ::core::result::Result::Ok(__orchestrator_value)
                }
                ::core::result::Result::Err(__orchestrator_error) => ::core::result::Result::Err(
                    ::core::convert::Into::<#krate::BoxError>::into(__orchestrator_error),
                ),
            }
        },
    };
    // Every parameter in one `let`, read in order: a `let` each would nest
    // one scope per parameter, and a step with a thousand dependencies
    // would overflow LLVM's stack when it writes debug info.
    let (names, reads): (Vec<_>, Vec<_>) = lets.into_iter().unzip();
    if maker == Maker::Direct {
        // Every parameter is an output or the input, at hand when the
        // step's future is made: the future is the function's own.
        return Some(quote! {
            {
                let ( #(#names,)* ) = ( #(#direct,)* );
                #call
            }
        });
    }
    if maker == Maker::Fallible {
        // Every parameter is at hand when the step's future is made: the
        // future is the function's own (or the error of a parameter that
        // could not be read); the run boxes its error as it ends.
        return Some(quote! {
            {
                let ( #(#names,)* ) = ( #(#reads,)* );
                ::core::result::Result::Ok(#call)
            }
        });
    }
    Some(quote! {
        {
            let ( #(#names,)* ) = ( #(#reads,)* );
            let __orchestrator_result: ::core::result::Result<
                <#path as #private::Step>::Output,
                #krate::BoxError,
            > = #run;
            __orchestrator_result
        }
    })
}

/// What a step's future-making function on the static path is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Maker {
    /// An `async fn` wrapping the step function: it reads the parameters
    /// when first polled, and awaits a mapped step's items.
    Async,
    /// A plain function returning the step function's own future, or the
    /// error of a resource it could not read.
    Fallible,
    /// A plain function returning the step function's own future: every
    /// parameter is a dependency's output or the input, so none can fail
    /// to be read, and the generated code awaits the future as it is
    /// returned, with no `Result` to move it out of (the move was a copy
    /// of the whole future, a visible part of a step's cost).
    Direct,
}

/// The maker of a step of kind `kind` and parameters `params`: a plain
/// function for a plain step alone in its layer on a fused run (which
/// calls it once the dependencies' outputs are at hand), an `async fn`
/// otherwise. The futures of a wider layer are made together, in a tree
/// built by value, and with plain functions' futures the optimizer copied
/// that tree level by level (about 1,250 copies a run for the bench's
/// layer of 1,000 steps, two-thirds of its instructions).
fn maker_kind(kind: StepKind, params: &[ParamMeta], access: Access, alone: bool) -> Maker {
    if access != Access::Fused || kind != StepKind::Plain || !alone {
        return Maker::Async;
    }
    let infallible = params
        .iter()
        .all(|p| matches!(p.kind, ParamKind::Dependency | ParamKind::Input));
    if infallible {
        Maker::Direct
    } else {
        Maker::Fallible
    }
}

/// The static path's functions, associated with the workflow's hidden
/// companion type: one `async fn` per step making its future, the run
/// function, whether the steps' futures are small enough for it, and the
/// out-of-line function that boxes its future. `None` when a step cannot
/// take it.
///
/// The run function takes one of two shapes. When the steps form complete
/// layers (every step of a layer depends on every step of the layer
/// before: a chain, a fan-out and its fan-in), it runs the layers in order
/// (see `orchestrator_core::dsl::FusedRun`): a step's future is made when
/// its layer starts, from its dependencies' outputs, so it holds plain
/// references to them. Otherwise every step's output slot and future live
/// in the run's future, the futures in a balanced tree of leaves polled by
/// position as their dependencies succeed (see
/// `orchestrator_core::dsl::StaticRun`).
fn static_run(
    finish: &Finish,
    graph: &Graph,
    input_ty: &TokenStream,
    output_name: &syn::Ident,
    companion: &syn::Ident,
) -> Option<TokenStream> {
    let idents: Vec<_> = finish.steps.iter().map(|step| &step.ident).collect();
    let krate = &finish.krate;
    let private = quote!(#krate::__private);
    let layers = complete_layers(finish, graph);
    let access = match layers {
        Some(_) => Access::Fused,
        None => Access::Static,
    };
    let mut alone = vec![false; finish.steps.len()];
    for layer in layers.iter().flatten() {
        if let [step] = layer[..] {
            alone[step] = true;
        }
    }
    let kinds: Vec<Maker> = (0..finish.steps.len())
        .map(|index| {
            let step = &finish.steps[index];
            maker_kind(step.kind, &step.params, access, alone[index])
        })
        .collect();
    let bodies = (0..finish.steps.len())
        .map(|index| step_body(finish, graph, index, input_ty, access, kinds[index]))
        .collect::<Option<Vec<_>>>()?;
    let indices: Vec<usize> = (0..finish.steps.len()).collect();
    let fields: Vec<_> = indices.iter().map(|&i| syn::Index::from(i)).collect();
    let output_type = |index: usize| {
        let path = &finish.steps[index].path;
        quote!(<#path as #private::Step>::Output)
    };
    let output_types: Vec<_> = indices.iter().map(|&i| output_type(i)).collect();
    // Each step's future comes from its own `async fn`, type-checked on its
    // own: one body holding every step's `async` block would make the
    // compiler's work grow with the square of the number of steps. They
    // are associated functions, so that the run function and the size
    // check can both name them.
    let makers: Vec<_> = indices
        .iter()
        .map(|i| format_ident!("__orchestrator_static_step{}", i))
        .collect();
    let deps: Vec<Vec<usize>> = indices
        .iter()
        .map(|&index| {
            let mut deps: Vec<usize> = finish.steps[index]
                .params
                .iter()
                .filter(|p| matches!(p.kind, ParamKind::Dependency | ParamKind::Each))
                .filter_map(|p| graph.dependency(finish, index, &p.ident.to_string()))
                .collect();
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect();
    let maker_fns = bodies.iter().enumerate().map(|(index, body)| {
        let maker = &makers[index];
        let dep_refs = deps[index].iter().map(|&d| read_ident(d));
        // The fused run makes a step's future once its dependencies
        // succeeded: it reads their outputs; the tree makes every future
        // first and reads the slots when the step starts.
        let dep_types = deps[index].iter().map(|&d| {
            let output = output_type(d);
            match access {
                Access::Fused => quote!(&'a #krate::StepOutput<#output>),
                _ => quote!(&'a ::std::sync::OnceLock<#krate::StepOutput<#output>>),
            }
        });
        let own = &output_types[index];
        let future =
            quote!(impl ::core::future::Future<Output: #private::StepResult<Ok = #own>> + 'a);
        let (asyncness, returns) = match kinds[index] {
            Maker::Direct => (None, future),
            Maker::Fallible => (
                None,
                quote!(::core::result::Result<#future, #krate::BoxError>),
            ),
            Maker::Async => (
                Some(quote!(async)),
                quote!(::core::result::Result<#own, #krate::BoxError>),
            ),
        };
        quote! {
            #[allow(unused_variables, clippy::needless_lifetimes)]
            #asyncness fn #maker<'a>(
                ( #(#dep_refs,)* ): ( #( #dep_types, )* ),
                __orchestrator_input: &'a #input_ty,
                __orchestrator_env: &'a #private::StaticEnv,
            ) -> #returns #body
        }
    });
    let parts = Parts {
        private: &private,
        krate,
        companion,
        makers: &makers,
        deps: &deps,
        input_ty,
        output_types: &output_types,
        kinds: &kinds,
    };
    let (slot, take, run) = match &layers {
        Some(layers) => (
            quote!(::core::option::Option),
            quote!(::core::option::Option::take),
            fused_body(&parts, layers),
        ),
        None => (
            quote!(::std::sync::OnceLock),
            quote!(::std::sync::OnceLock::take),
            tree_body(&parts),
        ),
    };
    let fused = layers.is_some();
    let sizes = kinds.iter().map(|&kind| match kind {
        Maker::Fallible => format_ident!("made_future_size"),
        Maker::Direct | Maker::Async => format_ident!("future_size"),
    });
    Some(quote! {
        #(#maker_fns)*

        /// Whether the run function runs the layers in order (the steps
        /// form complete layers) rather than a tree of every step.
        #[allow(dead_code)]
        const __ORCHESTRATOR_FUSED: bool = #fused;

        /// Whether the steps' futures are small enough for the static path
        /// (see `orchestrator_core::dsl::fits_static`); the executor, which
        /// boxes each step's future on its own, runs a workflow of larger
        /// ones.
        fn __orchestrator_static_fits() -> bool {
            const {
                #private::fits_static(
                    &[ #( #private::#sizes(&#companion::#makers), )* ],
                    ::core::cfg!(debug_assertions),
                )
            }
        }

        /// The static run's future, boxed. Never inlined: the future is
        /// made in this function's frame before it moves into its box, so
        /// only this frame, entered once the futures fit, is that large.
        #[inline(never)]
        fn __orchestrator_start_static<'a>(
            __orchestrator_run: #private::StaticRun,
            __orchestrator_input: &'a #input_ty,
        ) -> ::core::pin::Pin<::std::boxed::Box<
            impl ::core::future::Future<
                Output = ::core::result::Result<#output_name, #krate::RunError>,
            > + 'a,
        >> {
            ::std::boxed::Box::pin(#companion::__orchestrator_run_static(
                __orchestrator_run,
                __orchestrator_input,
            ))
        }

        /// The static path of `run`: see `orchestrator_core::dsl::StaticRun`.
        #[allow(clippy::too_many_lines, clippy::large_stack_frames)]
        async fn __orchestrator_run_static(
            __orchestrator_run: #private::StaticRun,
            __orchestrator_input: &#input_ty,
        ) -> ::core::result::Result<#output_name, #krate::RunError> {
            type __OrchestratorOuts = ( #( #slot<#krate::StepOutput<#output_types>>, )* );
            // Once the steps are gone, the typed outputs move out of their
            // slots (a report made from them shares the same values), with
            // no lookup or downcast; in a plain function, so nothing of it
            // is part of the run's state machine.
            fn __orchestrator_outputs(
                mut __orchestrator_outs: __OrchestratorOuts,
                __orchestrator_record: #private::RunRecord,
            ) -> ::core::result::Result<#output_name, #krate::RunError> {
                // Taken in place, into one value. (Moved out into a local
                // each, every call in between would need its own clean-up of
                // all the slots still held, for the square of the steps in
                // code: 24 minutes to build two 1,000-step workflows.)
                let __orchestrator_taken = ( #( #take(&mut __orchestrator_outs.#fields), )* );
                // Every slot is empty now: forgotten, it frees nothing less
                // than dropped, and a run skips a check of each slot.
                ::core::mem::forget(__orchestrator_outs);
                match __orchestrator_taken {
                    // Every step succeeded: the report is made from the
                    // record and these outputs once asked for.
                    ( #(::core::option::Option::Some(#idents),)* ) if __orchestrator_record.is_success() => {
                        ::core::result::Result::Ok(#output_name {
                            #(#idents,)*
                            __orchestrator_report: #private::LazyReport::from(__orchestrator_record),
                        })
                    }
                    // A step did not succeed (or, should every step have
                    // succeeded with a slot empty, an output is missing):
                    // the report, with the outputs there are, tells which.
                    __orchestrator_taken => {
                        let ( #(#idents,)* ) = __orchestrator_taken;
                        #output_name::from_report(__orchestrator_record.into_report(::std::vec![
                            #( #private::erased(::core::option::Option::as_ref(&#idents)), )*
                        ]))
                    }
                }
            }
            // Every step's output slot in one tuple: a `let` per step
            // would nest one scope per step, and thousands of nested
            // scopes overflow LLVM's stack.
            #[allow(unused_mut)]
            let mut __orchestrator_outs: __OrchestratorOuts = ( #( <#slot<#krate::StepOutput<#output_types>> as ::core::default::Default>::default(), )* );
            #run
        }
    })
}

/// What both shapes of the static run function are made from.
struct Parts<'p> {
    private: &'p TokenStream,
    krate: &'p TokenStream,
    companion: &'p syn::Ident,
    /// The function making each step's future.
    makers: &'p [syn::Ident],
    /// Each step's dependencies that it reads, sorted.
    deps: &'p [Vec<usize>],
    input_ty: &'p TokenStream,
    /// Each step's output type.
    output_types: &'p [TokenStream],
    /// What each step's maker is (see [`Maker`]).
    kinds: &'p [Maker],
}

/// The local (and the maker's parameter) holding the output of step `dep`.
fn read_ident(dep: usize) -> syn::Ident {
    format_ident!("__orchestrator_r{}", dep)
}

/// The layers of the workflow's steps (each step's layer is one more than
/// its deepest dependency's), when every step of a layer depends on every
/// step of the layer before; `None` otherwise.
fn complete_layers(finish: &Finish, graph: &Graph) -> Option<Vec<Vec<usize>>> {
    let count = finish.steps.len();
    let deps: Vec<Vec<usize>> = graph
        .deps
        .iter()
        .map(|deps| {
            let mut deps: Vec<usize> = deps.iter().flatten().copied().collect();
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect();
    // Kahn's order: a step's layer is known once its dependencies' are.
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); count];
    for (step, deps) in deps.iter().enumerate() {
        for &dep in deps {
            dependents[dep].push(step);
        }
    }
    let mut level = vec![0usize; count];
    let mut ready: Vec<usize> = (0..count).filter(|&s| waiting[s] == 0).collect();
    let mut seen = 0;
    while let Some(step) = ready.pop() {
        seen += 1;
        for &next in &dependents[step] {
            level[next] = level[next].max(level[step] + 1);
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(next);
            }
        }
    }
    if seen != count {
        return None;
    }
    let depth = level.iter().max().map_or(0, |deepest| deepest + 1);
    let mut layers = vec![Vec::new(); depth];
    for (step, &level) in level.iter().enumerate() {
        layers[level].push(step);
    }
    let complete = (0..count).all(|step| {
        level[step] == 0 || {
            let before = level[step] - 1;
            let joined = deps[step].iter().filter(|&&d| level[d] == before).count();
            joined == layers[before].len()
        }
    });
    complete.then_some(layers)
}

/// How many single-step layers in a row one generated function runs.
const CHAIN_CHUNK: usize = 64;

/// The fused run function's body: the layers in order, each a generated
/// `async fn` (a run of single-step layers, up to `CHAIN_CHUNK`, shares
/// one), every step's output in a plain slot, then the report.
fn fused_body(parts: &Parts<'_>, layers: &[Vec<usize>]) -> TokenStream {
    let Parts {
        private,
        krate,
        companion,
        makers,
        deps,
        input_ty,
        output_types,
        kinds,
    } = parts;
    // The reads of a step's (or a layer's) dependencies: each slot is set,
    // as every earlier layer succeeded; `false` should one not be.
    let reads = |deps: &[usize]| {
        let names = deps.iter().map(|&d| read_ident(d));
        let fields = deps.iter().map(|&d| syn::Index::from(d));
        quote! {
            let ( #(#names,)* ) = ( #(
                match &__orchestrator_outs.#fields {
                    ::core::option::Option::Some(__orchestrator_value) => __orchestrator_value,
                    ::core::option::Option::None => return false,
                },
            )* );
        }
    };
    let make = |step: usize| {
        let maker = &makers[step];
        let refs = deps[step].iter().map(|&d| read_ident(d));
        quote!(#companion::#maker((#(#refs,)*), __orchestrator_input, __orchestrator_env))
    };
    let mut segments = Vec::new();
    // Whether each segment is a run of one-step layers (its steps' panics
    // caught around it) rather than a wider layer (each step's caught by
    // its leaf).
    let mut chained = Vec::new();
    let mut fns = Vec::new();
    let mut i = 0;
    while i < layers.len() {
        let segment = format_ident!("__orchestrator_layer{}", i);
        let body = if layers[i].len() == 1 {
            let mut steps = Vec::new();
            while i < layers.len() && layers[i].len() == 1 && steps.len() < CHAIN_CHUNK {
                let step = layers[i][0];
                let read = reads(&deps[step]);
                let call = make(step);
                let field = syn::Index::from(step);
                let position = u32::try_from(step).unwrap_or(u32::MAX);
                // The step's future is awaited right here, in this
                // function's own state machine, as a person would await
                // it; the run records when it began and how it ended.
                let end = quote! {
                    if !__orchestrator_fused.end(
                        __orchestrator_result,
                        &mut __orchestrator_outs.#field,
                    ) {
                        return false;
                    }
                };
                let run = if kinds[step] == Maker::Direct {
                    quote! {
                        let __orchestrator_result = #call.await;
                        #end
                    }
                } else if kinds[step] == Maker::Fallible {
                    // The function's own future, or the error of a
                    // resource it could not read.
                    quote! {
                        match #call {
                            ::core::result::Result::Ok(__orchestrator_future) => {
                                let __orchestrator_result = __orchestrator_future.await;
                                #end
                            }
                            ::core::result::Result::Err(__orchestrator_error) => {
                                __orchestrator_fused.unmade(__orchestrator_error);
                                return false;
                            }
                        }
                    }
                } else {
                    // A mapped or composite step's `async fn`.
                    quote! {
                        let __orchestrator_result = #call.await;
                        #end
                    }
                };
                steps.push(quote! {
                    {
                        #read
                        __orchestrator_fused.begin(#position);
                        #run
                    }
                });
                i += 1;
            }
            let count = u32::try_from(steps.len()).unwrap_or(u32::MAX);
            chained.push(true);
            quote! {
                __orchestrator_fused.reserve(#count).await;
                #(#steps)*
                true
            }
        } else {
            let layer = &layers[i];
            let mut layer_deps: Vec<usize> = layer.iter().flat_map(|&s| deps[s].clone()).collect();
            layer_deps.sort_unstable();
            layer_deps.dedup();
            let read = reads(&layer_deps);
            let writes: Vec<_> = layer
                .iter()
                .map(|&s| format_ident!("__orchestrator_w{}", s))
                .collect();
            let write_fields = layer.iter().map(|&s| syn::Index::from(s));
            let leaf = |step: usize| {
                let call = make(step);
                let write = format_ident!("__orchestrator_w{}", step);
                quote!(#private::leaf(#call, #write))
            };
            let leaves: Vec<_> = layer.iter().map(|&s| leaf(s)).collect();
            // A debug build makes a wide layer's futures in boxed chunks;
            // each chunk's function takes the outputs it reads and the
            // slots it writes.
            let steps_let = pinned_steps(private, &leaves, |c, range| {
                let chunk = &layer[range];
                let chunk_fn = format_ident!("__orchestrator_chunk{}", c);
                let mut chunk_deps: Vec<usize> =
                    chunk.iter().flat_map(|&s| deps[s].clone()).collect();
                chunk_deps.sort_unstable();
                chunk_deps.dedup();
                let dep_names: Vec<_> = chunk_deps.iter().map(|&d| read_ident(d)).collect();
                let dep_types = chunk_deps.iter().map(|&d| {
                    let output = &output_types[d];
                    quote!(&'a #krate::StepOutput<#output>)
                });
                let chunk_writes: Vec<_> = chunk
                    .iter()
                    .map(|&s| format_ident!("__orchestrator_w{}", s))
                    .collect();
                let write_types = chunk.iter().map(|&s| {
                    let output = &output_types[s];
                    quote!(&'a mut ::core::option::Option<#krate::StepOutput<#output>>)
                });
                let subtree =
                    step_tree(private, &chunk.iter().map(|&s| leaf(s)).collect::<Vec<_>>());
                let definition = quote! {
                    #[cfg(debug_assertions)]
                    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
                    fn #chunk_fn<'a>(
                        ( #(#dep_names,)* ): ( #(#dep_types,)* ),
                        ( #(#chunk_writes,)* ): ( #(#write_types,)* ),
                        __orchestrator_input: &'a #input_ty,
                        __orchestrator_env: &'a #private::StaticEnv,
                    ) -> ::core::pin::Pin<::std::boxed::Box<impl #private::Steps + 'a>> {
                        ::std::boxed::Box::pin(#subtree)
                    }
                };
                let call = quote! {
                    #chunk_fn((#(#dep_names,)*), (#(#chunk_writes,)*), __orchestrator_input, __orchestrator_env)
                };
                (definition, call)
            });
            let positions = layer.iter().map(|&s| u32::try_from(s).unwrap_or(u32::MAX));
            i += 1;
            chained.push(false);
            quote! {
                #read
                let ( #(#writes,)* ) = ( #( &mut __orchestrator_outs.#write_fields, )* );
                #steps_let
                __orchestrator_fused
                    .layer(&[ #(#positions),* ], __orchestrator_steps.as_mut())
                    .await
            }
        };
        fns.push(quote! {
            #[allow(unused_variables, clippy::needless_lifetimes, clippy::too_many_lines)]
            async fn #segment<'a>(
                __orchestrator_fused: &'a mut #private::FusedRun,
                __orchestrator_outs: &'a mut __OrchestratorOuts,
                __orchestrator_input: &'a #input_ty,
                __orchestrator_env: &'a #private::StaticEnv,
            ) -> bool {
                #body
            }
        });
        segments.push(segment);
    }
    let order = layers
        .iter()
        .flatten()
        .map(|&s| u32::try_from(s).unwrap_or(u32::MAX));
    let calls = segments.iter().zip(&chained).map(|(segment, &chained)| {
        let call = quote! {
            #segment(
                &mut __orchestrator_fused,
                &mut __orchestrator_outs,
                __orchestrator_input,
                &__orchestrator_env,
            )
        };
        if !chained {
            return quote!(#call.await);
        }
        quote! {
            match #private::segment(#call).await {
                ::core::result::Result::Ok(__orchestrator_ok) => __orchestrator_ok,
                ::core::result::Result::Err(__orchestrator_payload) => {
                    __orchestrator_fused.step_panicked(__orchestrator_payload);
                    false
                }
            }
        }
    });
    quote! {
        #(#fns)*
        let (mut __orchestrator_fused, __orchestrator_env) = __orchestrator_run.fused();
        let mut __orchestrator_ok = true;
        #(
            if __orchestrator_ok {
                __orchestrator_ok = #calls;
            }
        )*
        let __orchestrator_record = __orchestrator_fused.finish(&[ #(#order),* ]);
        __orchestrator_outputs(__orchestrator_outs, __orchestrator_record)
    }
}

/// The tree run function's body: every step's future made at once, in a
/// tree of leaves the driver polls by position.
fn tree_body(parts: &Parts<'_>) -> TokenStream {
    let Parts {
        private,
        companion,
        makers,
        deps,
        input_ty,
        ..
    } = parts;
    let leaves: Vec<_> = makers
        .iter()
        .enumerate()
        .map(|(index, maker)| {
            let field = syn::Index::from(index);
            let dep_fields = deps[index].iter().map(|&d| syn::Index::from(d));
            quote! {
                #private::leaf(
                    #companion::#maker((#(&__orchestrator_outs_ref.#dep_fields,)*), __orchestrator_input, __orchestrator_env),
                    &__orchestrator_outs_ref.#field,
                )
            }
        })
        .collect();
    // In a debug build, past `CHUNK` steps, the leaves are built in chunks,
    // each by its own function into its own box: a debug build's stack
    // frame keeps every temporary of the values it builds in a slot of its
    // own, so one expression building every step's future needed about a
    // kilobyte of stack per step, and a workflow of a few thousand steps
    // overflowed a tokio worker's 2 MiB stack. A release build reuses the
    // slots (about 150 bytes of stack per trivial step) and keeps the one
    // expression: a box per chunk cost it 10-40 % in time per step, and
    // made its times spread (the boxes come and go from the heap's top).
    let steps_let = pinned_steps(private, &leaves, |i, range| {
        let chunk_fn = format_ident!("__orchestrator_chunk{}", i);
        let subtree = step_tree(private, &leaves[range]);
        let definition = quote! {
            #[cfg(debug_assertions)]
            fn #chunk_fn<'a>(
                __orchestrator_outs_ref: &'a __OrchestratorOuts,
                __orchestrator_input: &'a #input_ty,
                __orchestrator_env: &'a #private::StaticEnv,
            ) -> ::core::pin::Pin<::std::boxed::Box<impl #private::Steps + 'a>> {
                ::std::boxed::Box::pin(#subtree)
            }
        };
        let call = quote! {
            #chunk_fn(__orchestrator_outs_ref, __orchestrator_input, __orchestrator_env)
        };
        (definition, call)
    });
    quote! {
        let __orchestrator_env = __orchestrator_run.env();
        let __orchestrator_record = {
            let __orchestrator_outs_ref = &__orchestrator_outs;
            // Each step's future is made here and first polled once its
            // dependencies succeeded (a future does nothing until polled).
            #steps_let
            __orchestrator_run
                .drive(|__orchestrator_step, __orchestrator_cx| {
                    #private::Steps::advance(
                        __orchestrator_steps.as_mut(),
                        __orchestrator_step,
                        __orchestrator_cx,
                    )
                })
                .await
        };
        __orchestrator_outputs(__orchestrator_outs, __orchestrator_record)
    }
}

/// `let mut __orchestrator_steps`: `leaves` pinned in a balanced tree,
/// made in one expression; past `CHUNK` leaves, in a debug build, a tree of
/// boxed chunks instead, each made by a function of its own (`chunk(i,
/// range)` gives chunk `i`'s definition and its call), so no stack frame
/// holds every future (see `tree_body`).
fn pinned_steps(
    private: &TokenStream,
    leaves: &[TokenStream],
    mut chunk: impl FnMut(usize, std::ops::Range<usize>) -> (TokenStream, TokenStream),
) -> TokenStream {
    let tree = step_tree(private, leaves);
    if leaves.len() <= CHUNK {
        return quote!(let mut __orchestrator_steps = ::core::pin::pin!(#tree););
    }
    let (definitions, calls): (Vec<_>, Vec<_>) = (0..leaves.len())
        .step_by(CHUNK)
        .enumerate()
        .map(|(i, start)| chunk(i, start..(start + CHUNK).min(leaves.len())))
        .unzip();
    let chunked = step_tree(private, &calls);
    quote! {
        #(#definitions)*
        #[cfg(debug_assertions)]
        let mut __orchestrator_steps = ::core::pin::pin!(#chunked);
        #[cfg(not(debug_assertions))]
        let mut __orchestrator_steps = ::core::pin::pin!(#tree);
    }
}

/// How many steps the static path builds in one function (see `static_run`).
const CHUNK: usize = 16;

/// A balanced tree of `pair`s over `leaves`, so every step is reached in
/// a few comparisons and the types nest only logarithmically deep.
fn step_tree(private: &TokenStream, leaves: &[TokenStream]) -> TokenStream {
    match leaves {
        [] => quote!(()),
        [leaf] => leaf.clone(),
        _ => {
            let (first, second) = leaves.split_at(leaves.len() / 2);
            let first = step_tree(private, first);
            let second = step_tree(private, second);
            quote!(#private::pair(#first, #second))
        }
    }
}
