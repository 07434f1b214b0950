//! Crate macros: the one door for syscalls and the trace hook.
//!
//! Declared first in `lib.rs` so every module can use them.

/// Calls a libc function and maps a `-1` return to [`std::io::Error::last_os_error`].
///
/// The macro does not hide `unsafe`: the caller writes
/// `unsafe { syscall!(fn_name(args…)) }` with a `// SAFETY:` line, so every
/// syscall stays visible as unsafe code. It never retries on `EINTR`; that is
/// a separate, named choice ([`crate::sys::retry_eintr`]).
///
/// # Examples
///
/// ```
/// use netpark_runtime::syscall;
/// // SAFETY: getpid has no preconditions.
/// let pid = unsafe { syscall!(getpid()) }.unwrap();
/// assert!(pid > 0);
/// ```
#[macro_export]
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_unsafe)]
        let res = $crate::__libc::$fn($($arg),*);
        if res == -1 {
            ::std::result::Result::Err(::std::io::Error::last_os_error())
        } else {
            ::std::result::Result::Ok(res)
        }
    }};
}

/// Logs one line at `trace` level under the `netpark` target.
///
/// Compiled out entirely without the `trace` feature, so the hot path pays
/// nothing; with it, `log`'s level check is one atomic load.
#[cfg(feature = "trace")]
#[macro_export]
macro_rules! trace {
    ($($t:tt)*) => { $crate::__log::trace!(target: "netpark", $($t)*) };
}

/// Logs one line at `trace` level under the `netpark` target (compiled out).
#[cfg(not(feature = "trace"))]
#[macro_export]
macro_rules! trace {
    ($($t:tt)*) => {{}};
}
