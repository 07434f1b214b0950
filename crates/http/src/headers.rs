//! `Headers`: an ordered, case-insensitive multimap (Go's `http.Header`).

#![forbid(unsafe_code)]

use std::fmt;

/// HTTP header fields in arrival order; names compare case-insensitively.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// (name as given, value), in order; values are raw bytes (RFC 9110
    /// allows obs-text), shown as text where they are UTF-8.
    fields: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// No fields.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// The first value of `name` as text, if present and UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `name`, as bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Replaces every value of `name` with `value` (Go's `Header.Set`).
    pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.remove(name);
        self.add(name, value);
    }

    /// Adds a value after any others of `name` (Go's `Header.Add`).
    pub fn add(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.fields.push((name.to_string(), value.into()));
    }

    /// Removes every value of `name` (Go's `Header.Del`).
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// Whether a comma-separated header (`Connection`, `Transfer-Encoding`)
    /// lists `token`, case-insensitively.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|v| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.fields
                    .iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_set_replaces() {
        let mut h = Headers::new();
        h.add("Content-Type", "text/plain");
        h.add("X-A", "1");
        h.add("x-a", "2");
        assert_eq!(h.get("content-type"), Some("text/plain"));
        assert_eq!(h.get_all("X-A").count(), 2);
        h.set("X-a", "3");
        assert_eq!(h.get_all("x-A").collect::<Vec<_>>(), vec![b"3".as_slice()]);
        h.add("Connection", "keep-alive, Upgrade");
        assert!(h.has_token("connection", "upgrade"));
        assert!(!h.has_token("connection", "close"));
    }
}
