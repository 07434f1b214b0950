//! Finding the kernel ends of a `copy` (Go's `src.(WriterTo)` /
//! `dst.(ReaderFrom)` type assertions) without specialization.
//!
//! `copy` takes any `R: Read + ?Sized` and `W: Write + ?Sized`. Rust has no
//! runtime type assertion, and a trait bound would shut out every reader
//! that does not implement netpark's trait (a `flate2` encoder, a user's
//! type, `&[u8]`). So `copy` compares the *type identity* of `R` and `W`
//! with a fixed table of the types whose bytes come straight from an fd, and
//! when one matches, views the value as that type's [`Source`] / [`Sink`]:
//!
//! - the fd types netpark knows: [`TcpStream`], [`UnixStream`],
//!   [`OsPipeReader`] / [`OsPipeWriter`] and `std::fs::File`;
//! - each of them by value, behind `&` and behind `&mut`;
//! - a reader behind `Take` (its limit is honoured and shrunk) and behind
//!   `BufReader` (its buffer is written first); a writer behind `BufWriter`
//!   (flushed first);
//! - `dyn FdReader` / `dyn FdWriter` (also `+ Send`, behind `&mut`, and
//!   a reader behind `Take<&mut dyn FdReader>`): the door for a user's own
//!   fd type, which implements the trait and is passed as a trait object.
//!
//! Anything else answers `None` and takes the buffer loop.
//!
//! # The unsafe island
//!
//! `std::any::TypeId::of` needs `T: 'static`, and `copy` must accept
//! borrowed ends (`&mut &TcpStream`, `Take<&File>`). [`erased_type_id`] gives
//! the identity of a type with its lifetimes erased, the way `TypeId` sees
//! them at code generation (the technique of the `typeid` crate). Two types
//! with the same erased identity differ at most in lifetimes, so the cast in
//! [`view`] is a cast between one type and itself, written with the
//! caller's borrow `'c` as every lifetime inside. That is a shortening,
//! never an extension: the value lives at least as long as `'c`, and
//! nothing reachable through the [`Source`] / [`Sink`] methods stores a
//! reference into it (they read fds, adjust limits and drain buffers).

use std::any::TypeId;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Take, Write};
use std::marker::PhantomData;

use super::ends::{FdReader, FdWriter, Sink, Source};
use super::os_pipe::{OsPipeReader, OsPipeWriter};
use crate::{TcpStream, UnixStream};

/// Gives the `TypeId` of the type it was made for, with lifetimes erased.
trait ErasedId {
    fn erased_id(&self) -> TypeId
    where
        Self: 'static;
}

impl<T: ?Sized> ErasedId for PhantomData<T> {
    fn erased_id(&self) -> TypeId
    where
        Self: 'static,
    {
        TypeId::of::<T>()
    }
}

/// The identity of `T` with every lifetime erased: `&'a File` and
/// `&'static File` give the same id; `File` and `&File` do not.
fn erased_type_id<T: ?Sized>() -> TypeId {
    let marker = PhantomData::<T>;
    let object: &dyn ErasedId = &marker;
    // SAFETY: only the lifetime bound of the trait object changes, which has
    // no effect on its layout or its vtable. The one method called through
    // it, `erased_id`, touches no data of `T` (a `PhantomData` has none) and
    // returns a plain value; it was monomorphized for `T` with lifetimes
    // erased, as all code is, so it returns the erased type's id.
    let object: &(dyn ErasedId + 'static) =
        unsafe { std::mem::transmute::<&dyn ErasedId, &(dyn ErasedId + 'static)>(object) };
    object.erased_id()
}

/// Whether `R` and `T` are one type up to lifetimes.
fn same_type<R: ?Sized, T: ?Sized>() -> bool {
    erased_type_id::<R>() == erased_type_id::<T>()
}

/// `r` as a `&mut T`.
///
/// # Safety
///
/// `same_type::<R, T>()` must hold, and every lifetime in `T` must be `'c`.
unsafe fn view<'c, R: ?Sized, T: ?Sized + 'c>(r: &'c mut R) -> &'c mut T {
    debug_assert!(same_type::<R, T>());
    debug_assert_eq!(std::mem::size_of::<&mut R>(), std::mem::size_of::<&mut T>());
    // SAFETY: R and T are the same type but for lifetimes (the caller's
    // promise), so `&mut R` and `&mut T` have one layout (a thin pointer, or
    // a fat one with the same metadata). Every lifetime in T is `'c`, the
    // borrow of `r`, which the value outlives; see the module docs for why
    // nothing can store a shorter-lived reference through the result. `r`
    // is consumed here and not used again.
    unsafe { std::mem::transmute_copy::<&'c mut R, &'c mut T>(&r) }
}

/// A copy's reader seen as a [`Source`]: either its own type's view, or a
/// user's `dyn FdReader`, which cannot be re-cast to `dyn Source` in place
/// (a trait object has one vtable) and is viewed through `&mut` instead.
pub(crate) enum Reader<'c> {
    /// One of the table's types.
    Typed(&'c mut (dyn Source + 'c)),
    /// A `dyn FdReader` (with or without `Send`).
    Dyn(&'c mut (dyn FdReader + 'c)),
}

impl Reader<'_> {
    /// The [`Source`] to copy from.
    pub(crate) fn source(&mut self) -> &mut dyn Source {
        match self {
            Reader::Typed(s) => &mut **s,
            Reader::Dyn(r) => r,
        }
    }
}

/// A copy's writer seen as a [`Sink`]; see [`Reader`].
pub(crate) enum Writer<'c> {
    /// One of the table's types.
    Typed(&'c mut (dyn Sink + 'c)),
    /// A `dyn FdWriter` (with or without `Send`).
    Dyn(&'c mut (dyn FdWriter + 'c)),
}

impl Writer<'_> {
    /// The [`Sink`] to copy to.
    pub(crate) fn sink(&mut self) -> &mut dyn Sink {
        match self {
            Writer::Typed(s) => &mut **s,
            Writer::Dyn(w) => w,
        }
    }
}

/// Returns `$r` as `$variant` of its view when its type is one of `$t`.
macro_rules! dyn_match {
    ($r:ident: $rt:ty => $variant:path: $($t:ty),* $(,)?) => {{
        $(
            if same_type::<$rt, $t>() {
                // SAFETY: checked just above; every lifetime in the listed
                // types is the caller's `'c`.
                let v = unsafe { view::<$rt, $t>($r) };
                return Some($variant(v));
            }
        )*
    }};
}

/// The kernel view of a copy's reader, if its type is one of the table's.
pub(crate) fn source<'c, R: Read + ?Sized>(r: &'c mut R) -> Option<Reader<'c>> {
    macro_rules! forms {
        ($($b:ty),*) => {$(
            dyn_match!(r: R => Reader::Typed:
                $b, &'c $b, &'c mut $b,
                Take<$b>, Take<&'c $b>, Take<&'c mut $b>,
                BufReader<$b>, BufReader<&'c $b>,
            );
        )*};
    }
    forms!(TcpStream, UnixStream, OsPipeReader, File);
    dyn_match!(r: R => Reader::Typed:
        &'c mut (dyn FdReader + 'c),
        &'c mut (dyn FdReader + Send + 'c),
        Take<&'c mut (dyn FdReader + 'c)>,
        Take<&'c mut (dyn FdReader + Send + 'c)>,
    );
    dyn_match!(r: R => Reader::Dyn: dyn FdReader + 'c);
    if same_type::<R, dyn FdReader + Send + 'c>() {
        // SAFETY: checked just above; the one lifetime is the caller's `'c`.
        let v = unsafe { view::<R, dyn FdReader + Send + 'c>(r) };
        return Some(Reader::Dyn(v));
    }
    None
}

/// The kernel view of a copy's writer, if its type is one of the table's.
pub(crate) fn sink<'c, W: Write + ?Sized>(w: &'c mut W) -> Option<Writer<'c>> {
    macro_rules! forms {
        ($($b:ty),*) => {$(
            dyn_match!(w: W => Writer::Typed:
                $b, &'c $b, &'c mut $b, BufWriter<$b>, BufWriter<&'c $b>,
            );
        )*};
    }
    forms!(TcpStream, UnixStream, OsPipeWriter, File);
    dyn_match!(w: W => Writer::Typed:
        &'c mut (dyn FdWriter + 'c),
        &'c mut (dyn FdWriter + Send + 'c),
    );
    dyn_match!(w: W => Writer::Dyn: dyn FdWriter + 'c);
    if same_type::<W, dyn FdWriter + Send + 'c>() {
        // SAFETY: checked just above; the one lifetime is the caller's `'c`.
        let v = unsafe { view::<W, dyn FdWriter + Send + 'c>(w) };
        return Some(Writer::Dyn(v));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erased_ids_ignore_lifetimes_only() {
        fn id_of_ref<'a>(_: &'a File) -> TypeId {
            erased_type_id::<&'a File>()
        }
        let f = File::open("/dev/null").unwrap();
        assert_eq!(id_of_ref(&f), erased_type_id::<&'static File>());
        assert_ne!(erased_type_id::<File>(), erased_type_id::<&'static File>());
        assert_ne!(
            erased_type_id::<dyn FdReader>(),
            erased_type_id::<dyn FdReader + Send>()
        );
    }

    #[test]
    fn only_fd_types_are_recognised() {
        let mut slice: &[u8] = b"abc";
        assert!(source(&mut slice).is_none());
        let mut v: Vec<u8> = Vec::new();
        assert!(sink(&mut v).is_none());
        let f = File::open("/dev/null").unwrap();
        let mut r = &f;
        assert!(source(&mut r).is_some());
        let mut t = (&f).take(3);
        assert_eq!(source(&mut t).unwrap().source().limit(), Some(3));
        let mut b = BufReader::new(&f);
        assert!(source(&mut b).is_some());
        let mut boxed: Box<dyn Read> = Box::new(File::open("/dev/null").unwrap());
        assert!(
            source(&mut boxed).is_none(),
            "a Box<dyn Read> has no fd to show"
        );
    }
}
