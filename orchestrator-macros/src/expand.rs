//! The code `workflow!` generates: a unit type with `workflow()`,
//! `execute()` and `run()`, and a struct of typed outputs.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use crate::check::Graph;
use crate::step::ParamKind;
use crate::workflow::{Finish, StepKind};

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
            let body = step_body(finish, graph, index, &input_ty, Access::Context);
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
                if let ::core::option::Option::Some(run) =
                    #private::StaticRun::begin(engine, Self::workflow())
                {
                    return #companion::__orchestrator_start_static(run, &input).await;
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
            __orchestrator_report: #krate::RunReport,
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
                let report = Self::report_with(execution).await?;
                #output_name::from_report(report)
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
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#output_name_str)
                    .field("report", &self.__orchestrator_report)
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
                report: #krate::RunReport,
            ) -> ::core::result::Result<#output_name, #krate::RunError> {
                #output_name::from_report(report)
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
                            __orchestrator_report,
                        })
                    }
                    __orchestrator_outputs => {
                        let ( #(#idents,)* ) = __orchestrator_outputs;
                        let __orchestrator_missing = [ #( (#idents.is_none(), #names), )* ];
                        let step = __orchestrator_missing
                            .iter()
                            .find(|(missing, _)| *missing)
                            .map_or("", |(_, name)| *name);
                        ::core::result::Result::Err(#krate::RunError::MissingOutput {
                            workflow: #name_str,
                            step,
                        })
                    }
                }
            }

            /// The run's report.
            #vis fn report(&self) -> &#krate::RunReport {
                &self.__orchestrator_report
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
) -> Option<TokenStream> {
    let krate = &finish.krate;
    let private = quote!(#krate::__private);
    let step = &finish.steps[index];
    let path = &step.path;
    let step_name = step.ident.to_string();
    if access == Access::Static && step.kind == StepKind::Composite {
        return None;
    }
    let mut lets = Vec::new();
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
            let slot = format_ident!("__orchestrator_r{}", dep?);
            Some(quote!(#private::output(#slot, #step_name, #dep_name)))
        };
        let getter = match (param.kind, access) {
            (ParamKind::Dependency | ParamKind::Each, Access::Static) => static_output()?,
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
            (ParamKind::Input, Access::Static) => quote!(
                ::core::result::Result::<&#input_ty, #krate::BoxError>::Ok(__orchestrator_input)
            ),
            (ParamKind::Resource, Access::Context) => quote!(
                __orchestrator_ctx.resource::<<#path as #private::Param<#param_index>>::Type>()
            ),
            (ParamKind::Resource, Access::Static) => quote!(
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
        let error = match access {
            Access::Context => quote!(#private::context_error(error)),
            Access::Static => quote!(error),
        };
        lets.push((
            binding,
            quote! {
                match #getter {
                    ::core::result::Result::Ok(value) => value,
                    ::core::result::Result::Err(error) => {
                        return ::core::result::Result::Err(#error);
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
                ::core::result::Result::Ok(value) => {
                    <#path as #private::Composite>::finish(&__orchestrator_ctx, value).await
                }
                ::core::result::Result::Err(error) => ::core::result::Result::Err(
                    ::core::convert::Into::<#krate::BoxError>::into(error),
                ),
            }
        },
        _ => quote! {
            match #call.await {
                ::core::result::Result::Ok(value) => ::core::result::Result::Ok(value),
                ::core::result::Result::Err(error) => ::core::result::Result::Err(
                    ::core::convert::Into::<#krate::BoxError>::into(error),
                ),
            }
        },
    };
    // Every parameter in one `let`, read in order: a `let` each would nest
    // one scope per parameter, and a step with a thousand dependencies
    // would overflow LLVM's stack when it writes debug info.
    let (names, reads): (Vec<_>, Vec<_>) = lets.into_iter().unzip();
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

/// The static path's functions, associated with the workflow's hidden
/// companion type: one `async fn` per step making its future, the run
/// function (every step's output slot and future in this one future, the
/// futures in a balanced tree of leaves polled by position, see
/// `orchestrator_core::dsl::StaticRun`), whether the steps' futures are
/// small enough for it, and the out-of-line function that boxes its
/// future. `None` when a step cannot take it.
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
    let bodies = (0..finish.steps.len())
        .map(|index| step_body(finish, graph, index, input_ty, Access::Static))
        .collect::<Option<Vec<_>>>()?;
    let indices: Vec<usize> = (0..finish.steps.len()).collect();
    let refs: Vec<_> = indices
        .iter()
        .map(|i| format_ident!("__orchestrator_r{}", i))
        .collect();
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
    let mut maker_fns = Vec::new();
    let mut maker_calls = Vec::new();
    for (index, (body, maker)) in bodies.iter().zip(&makers).enumerate() {
        let step = &finish.steps[index];
        let mut deps: Vec<usize> = step
            .params
            .iter()
            .filter(|p| matches!(p.kind, ParamKind::Dependency | ParamKind::Each))
            .filter_map(|p| graph.dependency(finish, index, &p.ident.to_string()))
            .collect();
        deps.sort_unstable();
        deps.dedup();
        let dep_refs: Vec<_> = deps.iter().map(|&d| &refs[d]).collect();
        let dep_fields: Vec<_> = deps.iter().map(|&d| syn::Index::from(d)).collect();
        let dep_types = deps.iter().map(|&d| output_type(d));
        let own = &output_types[index];
        maker_fns.push(quote! {
            #[allow(unused_variables, clippy::needless_lifetimes)]
            async fn #maker<'a>(
                ( #(#dep_refs,)* ): ( #( &'a ::std::sync::OnceLock<#krate::StepOutput<#dep_types>>, )* ),
                __orchestrator_input: &'a #input_ty,
                __orchestrator_env: &'a #private::StaticEnv,
            ) -> ::core::result::Result<#own, #krate::BoxError> #body
        });
        maker_calls.push(quote! {
            #companion::#maker((#(&__orchestrator_outs_ref.#dep_fields,)*), __orchestrator_input, __orchestrator_env)
        });
    }
    let leaves: Vec<_> = maker_calls
        .iter()
        .zip(&fields)
        .map(|(call, field)| quote!(#private::leaf(#call, &__orchestrator_outs_ref.#field)))
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
    let tree = step_tree(&private, &leaves);
    let mut chunk_fns = Vec::new();
    let steps_let = if leaves.len() <= CHUNK {
        quote!(let mut __orchestrator_steps = ::core::pin::pin!(#tree);)
    } else {
        let mut calls = Vec::new();
        for (i, chunk) in leaves.chunks(CHUNK).enumerate() {
            let chunk_fn = format_ident!("__orchestrator_chunk{}", i);
            let subtree = step_tree(&private, chunk);
            chunk_fns.push(quote! {
                #[cfg(debug_assertions)]
                fn #chunk_fn<'a>(
                    __orchestrator_outs_ref: &'a __OrchestratorOuts,
                    __orchestrator_input: &'a #input_ty,
                    __orchestrator_env: &'a #private::StaticEnv,
                ) -> ::core::pin::Pin<::std::boxed::Box<impl #private::Steps + 'a>> {
                    ::std::boxed::Box::pin(#subtree)
                }
            });
            calls.push(quote! {
                #chunk_fn(__orchestrator_outs_ref, __orchestrator_input, __orchestrator_env)
            });
        }
        let chunked = step_tree(&private, &calls);
        quote! {
            #[cfg(debug_assertions)]
            let mut __orchestrator_steps = ::core::pin::pin!(#chunked);
            #[cfg(not(debug_assertions))]
            let mut __orchestrator_steps = ::core::pin::pin!(#tree);
        }
    };
    Some(quote! {
        #(#maker_fns)*

        /// Whether the steps' futures are small enough for the static path
        /// (see `orchestrator_core::dsl::fits_static`); the executor, which
        /// boxes each step's future on its own, runs a workflow of larger
        /// ones.
        fn __orchestrator_static_fits() -> bool {
            #private::fits_static(
                &[ #( #private::future_size(&#companion::#makers), )* ],
                ::core::cfg!(debug_assertions),
            )
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
            type __OrchestratorOuts = ( #( ::std::sync::OnceLock<#krate::StepOutput<#output_types>>, )* );
            #(#chunk_fns)*
            // Once the steps are gone, the typed outputs move out of their
            // slots (the report holds the same values, erased), with no
            // lookup or downcast; in a plain function, so nothing of it is
            // part of the run's state machine.
            fn __orchestrator_outputs(
                mut __orchestrator_outs: __OrchestratorOuts,
                __orchestrator_report: #krate::RunReport,
            ) -> ::core::result::Result<#output_name, #krate::RunError> {
                let __orchestrator_report = #krate::RunError::from_report(__orchestrator_report)?;
                // Taken in place: the slots stay one value, dropped once. (Moved
                // out into a local each, every call in between would need its
                // own clean-up of all the slots still held, for the square of
                // the steps in code: 24 minutes to build two 1,000-step
                // workflows.)
                match ( #( ::std::sync::OnceLock::take(&mut __orchestrator_outs.#fields), )* ) {
                    ( #(::core::option::Option::Some(#idents),)* ) => {
                        ::core::result::Result::Ok(#output_name {
                            #(#idents,)*
                            __orchestrator_report,
                        })
                    }
                    // Every step succeeded, so every slot is set; should one
                    // not be, the report tells which output is missing.
                    _ => #output_name::from_report(__orchestrator_report),
                }
            }
            let __orchestrator_env = __orchestrator_run.env();
            // Every step's output slot in one tuple and every future in one
            // tree: a `let` per step would nest one scope per step, and
            // thousands of nested scopes overflow LLVM's stack.
            let __orchestrator_outs: __OrchestratorOuts = ( #( ::std::sync::OnceLock::<#krate::StepOutput<#output_types>>::new(), )* );
            let __orchestrator_report = {
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
            __orchestrator_outputs(__orchestrator_outs, __orchestrator_report)
        }
    })
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
