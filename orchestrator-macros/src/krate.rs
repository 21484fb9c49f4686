//! The path generated code uses to reach the `orchestrator` crate.

use proc_macro2::{Span, TokenStream};
use quote::quote;

/// `override_path` when the user gave `crate = "..."`; otherwise the name
/// under which the calling crate depends on `orchestrator` (it may have
/// renamed it in `Cargo.toml`), falling back to `::orchestrator`.
pub(crate) fn path(override_path: Option<&syn::Path>) -> TokenStream {
    if let Some(path) = override_path {
        return quote!(#path);
    }
    match proc_macro_crate::crate_name("orchestrator") {
        // `Itself` is also what doctests and examples of the `orchestrator`
        // package see; the facade names itself `orchestrator` for them.
        Ok(proc_macro_crate::FoundCrate::Itself) | Err(_) => quote!(::orchestrator),
        Ok(proc_macro_crate::FoundCrate::Name(name)) => {
            let ident = syn::Ident::new(&name, Span::call_site());
            quote!(::#ident)
        }
    }
}
