//! `ServeMux` (Go's `http.ServeMux`): requests routed by path to handlers.
//!
//! Go's rules, as its `ServeMux` has them without wildcards:
//!
//! - a pattern is a rooted path: `/favicon.ico` matches that path only,
//!   `/images/` (a trailing slash) the whole subtree under it, and `/`
//!   everything no other pattern takes; the longest matching pattern wins;
//! - a pattern may start with a method, `GET /items/` (Go 1.22): it then
//!   takes only that method, `GET` also `HEAD`; a path whose patterns all
//!   name other methods is a 405 with `Allow`;
//! - a request for `/images` when only `/images/` is registered is
//!   redirected there (301), and a path that is not clean (`//a`, `/a/../b`)
//!   is redirected to its clean form (301), the query kept;
//! - nothing matches: 404;
//! - registering the same method and pattern twice, or a pattern that is
//!   not a rooted path, is a programming error and panics, as in Go.
//!
//! The request's path is not changed: a handler under `/static/` sees
//! `/static/a.txt` (combine with [`strip_prefix`](crate::strip_prefix), as
//! in Go).

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;

use crate::fs::{clean, redirect};
use crate::request::Request;
use crate::response::{error, not_found, ResponseWriter};
use crate::Handler;

/// One registered pattern.
struct Route {
    /// The method it takes (`None`: every method).
    method: Option<String>,
    /// The rooted path; a trailing slash makes it a subtree.
    path: String,
    /// Who answers.
    handler: Arc<dyn Handler>,
}

impl Route {
    fn matches_path(&self, path: &str) -> bool {
        if self.path.ends_with('/') {
            path.starts_with(&self.path)
        } else {
            path == self.path
        }
    }

    fn takes(&self, method: &str) -> bool {
        match &self.method {
            None => true,
            Some(m) => m == method || (m == "GET" && method == "HEAD"),
        }
    }
}

/// A request router (Go's `http.ServeMux`); see the module docs for its
/// rules.
///
/// ```no_run
/// use netpark_http as http;
/// use std::io::Write;
/// let mut mux = http::ServeMux::new();
/// mux.handle("GET /hello", |w: &mut http::ResponseWriter<'_>, _: &mut http::Request<'_>| {
///     w.write_all(b"hello\n").unwrap();
/// });
/// mux.handle("/static/", http::strip_prefix("/static/", http::FileServer::new(".")));
/// http::listen_and_serve("127.0.0.1:8000", mux).unwrap();
/// ```
#[derive(Default)]
pub struct ServeMux {
    /// In registration order; the longest matching path wins.
    routes: Vec<Route>,
}

impl fmt::Debug for ServeMux {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let patterns: Vec<String> = self
            .routes
            .iter()
            .map(|r| match &r.method {
                Some(m) => format!("{m} {}", r.path),
                None => r.path.clone(),
            })
            .collect();
        f.debug_struct("ServeMux")
            .field("patterns", &patterns)
            .finish()
    }
}

impl ServeMux {
    /// An empty router: every request is a 404 until patterns are added.
    pub fn new() -> ServeMux {
        ServeMux::default()
    }

    /// Routes `pattern` (`/path`, `/subtree/` or `METHOD /path`) to
    /// `handler` (Go's `ServeMux.Handle`; a closure is a handler, so this
    /// is `HandleFunc` too).
    ///
    /// # Panics
    ///
    /// When the pattern is not a rooted path, or is registered already.
    pub fn handle(&mut self, pattern: &str, handler: impl Handler) -> &mut ServeMux {
        let (method, path) = match pattern.split_once(' ') {
            Some((m, p)) => (Some(m.to_string()), p.trim_start()),
            None => (None, pattern),
        };
        assert!(
            path.starts_with('/') && method.as_deref().is_none_or(|m| !m.is_empty()),
            "http: invalid pattern {pattern:?}: a rooted path, optionally after a method"
        );
        assert!(
            !self
                .routes
                .iter()
                .any(|r| r.path == path && r.method == method),
            "http: multiple registrations for {pattern:?}"
        );
        self.routes.push(Route {
            method,
            path: path.to_string(),
            handler: Arc::new(handler),
        });
        self
    }

    /// The longest pattern matching `path`, with every route registered
    /// under it.
    fn best(&self, path: &str) -> Option<Vec<&Route>> {
        let len = self
            .routes
            .iter()
            .filter(|r| r.matches_path(path))
            .map(|r| r.path.len())
            .max()?;
        Some(
            self.routes
                .iter()
                .filter(|r| r.path.len() == len && r.matches_path(path))
                .collect(),
        )
    }

    /// Whether `path` + "/" is registered and `path` itself is not (Go's
    /// `shouldRedirect`).
    fn wants_slash(&self, path: &str) -> bool {
        !path.ends_with('/')
            && !self.routes.iter().any(|r| r.path == path)
            && self
                .routes
                .iter()
                .any(|r| r.path.strip_suffix('/') == Some(path))
    }
}

impl Handler for ServeMux {
    fn serve(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        // Go keeps a trailing slash through its cleanPath.
        let mut cleaned = clean(&r.path);
        if r.path.ends_with('/') && cleaned != "/" {
            cleaned.push('/');
        }
        if cleaned != r.path {
            return redirect(w, r, &cleaned);
        }
        if self.wants_slash(&r.path) {
            let to = format!("{}/", r.path);
            return redirect(w, r, &to);
        }
        let Some(routes) = self.best(&r.path) else {
            return not_found(w);
        };
        match routes.iter().find(|route| route.takes(&r.method)) {
            Some(route) => route.handler.serve(w, r),
            None => {
                let mut allow: Vec<&str> =
                    routes.iter().filter_map(|r| r.method.as_deref()).collect();
                if allow.contains(&"GET") {
                    allow.push("HEAD");
                }
                allow.sort_unstable();
                allow.dedup();
                w.headers_mut().set("Allow", allow.join(", "));
                error(w, "405 Method Not Allowed", 405);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mux() -> ServeMux {
        let noop = |_: &mut ResponseWriter<'_>, _: &mut Request<'_>| {};
        let mut m = ServeMux::new();
        m.handle("/", noop)
            .handle("/images/", noop)
            .handle("/images/thumbs/", noop)
            .handle("/favicon.ico", noop)
            .handle("GET /items/", noop)
            .handle("POST /items/", noop);
        m
    }

    fn best_path(m: &ServeMux, path: &str) -> Option<String> {
        m.best(path).map(|rs| rs[0].path.clone())
    }

    #[test]
    fn the_longest_pattern_wins_and_slash_takes_the_rest() {
        let m = mux();
        assert_eq!(best_path(&m, "/images/a.png").as_deref(), Some("/images/"));
        assert_eq!(
            best_path(&m, "/images/thumbs/a.png").as_deref(),
            Some("/images/thumbs/")
        );
        assert_eq!(
            best_path(&m, "/favicon.ico").as_deref(),
            Some("/favicon.ico")
        );
        assert_eq!(best_path(&m, "/favicon.ico/x").as_deref(), Some("/"));
        assert_eq!(best_path(&m, "/other").as_deref(), Some("/"));
        assert_eq!(m.best("/items/1").map(|r| r.len()), Some(2));
        assert!(ServeMux::new().best("/x").is_none());
    }

    #[test]
    fn a_subtree_without_its_slash_redirects_unless_registered_bare() {
        let mut m = mux();
        assert!(m.wants_slash("/images"));
        assert!(!m.wants_slash("/images/"));
        assert!(!m.wants_slash("/favicon.ico"));
        m.handle(
            "/images",
            |_: &mut ResponseWriter<'_>, _: &mut Request<'_>| {},
        );
        assert!(!m.wants_slash("/images"));
    }

    #[test]
    fn methods_match_get_takes_head_too() {
        let m = mux();
        let routes = m.best("/items/7").unwrap();
        assert!(routes.iter().any(|r| r.takes("GET")));
        assert!(routes.iter().any(|r| r.takes("HEAD")));
        assert!(routes.iter().any(|r| r.takes("POST")));
        assert!(!routes.iter().any(|r| r.takes("DELETE")));
    }

    #[test]
    #[should_panic(expected = "multiple registrations")]
    fn a_pattern_registered_twice_panics() {
        mux().handle(
            "/favicon.ico",
            |_: &mut ResponseWriter<'_>, _: &mut Request<'_>| {},
        );
    }

    #[test]
    #[should_panic(expected = "invalid pattern")]
    fn a_pattern_that_is_not_a_rooted_path_panics() {
        ServeMux::new().handle(
            "images/",
            |_: &mut ResponseWriter<'_>, _: &mut Request<'_>| {},
        );
    }
}
