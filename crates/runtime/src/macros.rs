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

/// Calls the kernel directly through `syscall(2)` (argument `SYS_name`, then
/// the arguments, each converted to `c_long`), mapping `-1` as [`syscall!`] does.
///
/// For the calls made once per I/O operation only (`recv`, `send`, `read`,
/// `write` and their vectored and addressed forms). glibc's wrappers of those
/// are pthread cancellation points: in a multi-threaded process each one
/// brackets the syscall with an atomic enable and disable of asynchronous
/// cancellation, 1.5% of the echo server's CPU in a `perf` profile. netpark
/// never cancels threads, so it skips the wrapper; every other call goes
/// through [`syscall!`].
///
/// # Examples
///
/// ```
/// use netpark_runtime::raw_syscall;
/// // SAFETY: getpid has no preconditions.
/// let pid = unsafe { raw_syscall!(SYS_getpid()) }.unwrap();
/// assert_eq!(pid, std::process::id() as _);
/// ```
#[macro_export]
macro_rules! raw_syscall {
    ($nr:ident ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_unsafe, clippy::cast_lossless)]
        let res = $crate::__libc::syscall(
            $crate::__libc::$nr $(, $arg as $crate::__libc::c_long)*
        );
        if res == -1 {
            ::std::result::Result::Err(::std::io::Error::last_os_error())
        } else {
            ::std::result::Result::Ok(res)
        }
    }};
}

/// Logs one line at `trace` level under the `netpark` target.
///
/// Compiled out entirely without the `trace` feature; with it, `log`'s level
/// check is one atomic load, and the formatting runs in a cold function of
/// its own ([`cold`](crate::cold)), so it takes no room in the caller's
/// stack frame: the park path's frames are what a task touches at every
/// wake, one cache line per 64 bytes (ARCHITECTURE.md).
#[cfg(feature = "trace")]
#[macro_export]
macro_rules! trace {
    ($($t:tt)*) => {
        if $crate::__log::log_enabled!(target: "netpark", $crate::__log::Level::Trace) {
            $crate::cold(|| $crate::__log::trace!(target: "netpark", $($t)*));
        }
    };
}

/// Logs one line at `trace` level under the `netpark` target (compiled out).
#[cfg(not(feature = "trace"))]
#[macro_export]
macro_rules! trace {
    ($($t:tt)*) => {{}};
}
