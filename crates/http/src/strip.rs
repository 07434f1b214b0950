//! `strip_prefix` (Go's `http.StripPrefix`).

#![forbid(unsafe_code)]

use crate::request::Request;
use crate::response::{not_found, ResponseWriter};
use crate::Handler;

/// A handler that removes `prefix` from the request path and hands the
/// request to `inner`, or answers 404 when the path does not start with it
/// (Go's `http.StripPrefix`).
pub fn strip_prefix<H: Handler>(prefix: &str, inner: H) -> StripPrefix<H> {
    StripPrefix {
        prefix: prefix.to_string(),
        inner,
    }
}

/// See [`strip_prefix`].
#[derive(Debug, Clone)]
pub struct StripPrefix<H> {
    /// Removed from the front of every request path.
    prefix: String,
    /// Serves what is left.
    inner: H,
}

impl<H: Handler> Handler for StripPrefix<H> {
    fn serve(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        match r.path.strip_prefix(self.prefix.as_str()) {
            Some(rest) if rest.len() < r.path.len() || self.prefix.is_empty() => {
                r.path = rest.to_string();
                self.inner.serve(w, r);
            }
            _ => not_found(w),
        }
    }
}
