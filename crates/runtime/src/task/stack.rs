//! Task stacks: `mmap`'d, guard page below, committed lazily by the kernel, and the
//! SIGSEGV handler that turns a guard-page hit into a message naming the task.
//!
//! This is one of the three unsafe islands (ARCHITECTURE.md, "Unsafe").
//!
//! # Layout
//!
//! ```text
//!   low addr                                                  high addr
//!   ┌────────────┬──────────────────────────────────────────────┐
//!   │ guard page │ usable stack (PROT_READ|WRITE, MAP_NORESERVE) │ ← base (stack grows down)
//!   └────────────┴──────────────────────────────────────────────┘
//!   a guard marker (MADV_GUARD_INSTALL, one mapping in all) or, on kernels
//!   before 6.13, PROT_NONE (a second mapping): any access raises SIGSEGV
//! ```
//!
//! Pages are committed on first touch, so a 256 KiB stack that uses 8 KiB costs
//! 8 KiB of memory. Workers keep finished stacks of the default size in a pool,
//! so a spawn in the steady state makes no syscall. Rust emits stack probes for
//! frames larger than a page, so a large frame cannot jump over the guard page.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, OnceLock};

use corosensei::stack::{StackPointer, MIN_STACK_SIZE};

use crate::error;

fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize)
}

/// `bytes` of usable stack (a whole number of pages) as the page count
/// [`Task::stack_pages`](super::Task) keeps.
pub(crate) fn pages(bytes: usize) -> u32 {
    u32::try_from(bytes / page_size()).unwrap_or(u32::MAX)
}

/// The usable stack `[lo, hi)` of `task`, above its guard page.
#[cfg(test)]
pub(crate) fn usable(task: &super::Task) -> (usize, usize) {
    let lo = task.guard + page_size();
    (lo, lo + task.stack_pages as usize * page_size())
}

/// An owned, guarded task stack.
///
/// # Invariant
///
/// `[bottom, bottom + len)` is a mapping owned by this value: the first page is
/// a guard page (a guard marker, or `PROT_NONE`), the rest read-write. It is
/// unmapped exactly once, on drop.
#[derive(Debug)]
pub struct Stack {
    /// Lowest address of the mapping (start of the guard page).
    bottom: usize,
    /// Length of the mapping, guard page included.
    len: usize,
    /// Usable bytes above the guard page (the size a user asked for, rounded up).
    size: usize,
    /// Bytes left unused at the top, so the coroutine's first frame starts
    /// there (see [`COLORS`]); immutable.
    color: usize,
}

/// Stack coloring: how many different offsets below the top of their
/// mapping task stacks start at, [`COLOR_STEP`] bytes apart, in turn.
///
/// Stacks are page-aligned mappings a fixed distance apart, so without this
/// every task's frames sit at the same offset within a page: a parked task's
/// switch frame, its `read` and `park` frames and the socket it holds would
/// all map to the same few sets of the L1 (set index = address bits 6–11,
/// the offset within the page) and of the L2, and at 1,000 connections the
/// wakes would evict each other though the cache has room. Cachegrind
/// counted 23–28 L1 misses and 8–13 last-level misses per echo request at
/// 1,000 connections before, against tokio's 6 and 0.3 (its tasks are heap
/// objects at scattered addresses). 32 colors 64 bytes apart spread the
/// frames over every L1 set and keep the deepest frames of a parked
/// `wait_readable` (about 2 KiB) inside the top page.
pub const COLORS: usize = 32;

/// Distance between two stack colors: one cache line.
pub const COLOR_STEP: usize = 64;

/// The color the next new stack gets.
static NEXT_COLOR: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: a Stack is plain memory with no thread affinity; an unstarted task's
// stack moves with it to the worker that starts it. A stack in use by a
// coroutine is owned by that coroutine, which never leaves its worker.
unsafe impl Send for Stack {}

impl Stack {
    /// The usable size (whole pages, at least the minimum) and the mapping's
    /// length (one guard page more) of a stack asked for as `size` bytes.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a size past what the address space holds (not an
    /// overflow panic); `Runtime::builder().build()` checks its default
    /// size here.
    pub fn layout(size: usize) -> io::Result<(usize, usize)> {
        let page = page_size();
        let rounded = size.max(MIN_STACK_SIZE).checked_next_multiple_of(page);
        rounded
            .and_then(|s| Some((s, s.checked_add(page)?)))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "cannot map a task stack of {size} bytes: larger than the address space"
                    ),
                )
            })
    }

    /// Maps a stack with at least `size` usable bytes and a guard page below.
    pub fn new(size: usize) -> io::Result<Stack> {
        let page = page_size();
        let (size, len) = Stack::layout(size)?;
        // SAFETY: an anonymous private mapping at a kernel-chosen address; no
        // existing memory is affected.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(error::stack_map_failed(size, io::Error::last_os_error()));
        }
        let color = NEXT_COLOR.fetch_add(1, Ordering::Relaxed) % COLORS * COLOR_STEP;
        let stack = Stack {
            bottom: p as usize,
            len,
            size,
            color,
        };
        stack
            .install_guard(page)
            .map_err(|e| error::stack_map_failed(size, e))?;
        Ok(stack)
    }

    /// Makes the lowest page fault on any access. Where the kernel has guard
    /// markers (`MADV_GUARD_INSTALL`, Linux 6.13), the page stays part of the
    /// stack's one mapping; elsewhere `mprotect(PROT_NONE)` splits the mapping
    /// in two. Mappings are what a process runs out of first
    /// (`vm.max_map_count`, 65,530 by default), so markers double the number
    /// of live tasks at least (adjacent stacks may even share one mapping).
    fn install_guard(&self, page: usize) -> io::Result<()> {
        /// Not in the libc crate yet; the value is from the kernel's
        /// `include/uapi/asm-generic/mman-common.h`.
        const MADV_GUARD_INSTALL: libc::c_int = 102;
        /// Cleared for good the first time a kernel rejects the advice.
        static HAS_GUARD_MARKERS: AtomicBool = AtomicBool::new(true);
        let guard = self.bottom as *mut libc::c_void;
        if HAS_GUARD_MARKERS.load(Ordering::Relaxed) {
            // SAFETY: [bottom, bottom + page) lies inside the mapping this
            // Stack owns; the advice only changes how that page faults.
            match unsafe { syscall!(madvise(guard, page, MADV_GUARD_INSTALL)) } {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    HAS_GUARD_MARKERS.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        // SAFETY: as above; PROT_NONE on our own page.
        unsafe { syscall!(mprotect(guard, page, libc::PROT_NONE)) }.map(drop)
    }

    /// Usable bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The guard page's address range, for the overflow handler.
    pub(crate) fn guard(&self) -> (usize, usize) {
        (self.bottom, self.bottom + page_size())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the invariant says this mapping is ours and still mapped.
        unsafe { libc::munmap(self.bottom as *mut libc::c_void, self.len) };
    }
}

// SAFETY: base is the top of a mapping we own and limit its bottom (guard page
// included); both are page-aligned, hence STACK_ALIGNMENT-aligned, and the memory
// stays mapped for as long as the Stack lives.
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.bottom + self.len - self.color).expect("stack base is never null")
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.bottom).expect("stack limit is never null")
    }
}

/// The handler that was installed before ours (Rust's own, usually).
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the SIGSEGV/SIGBUS handler once per process.
pub(crate) fn install_overflow_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for sig in [libc::SIGSEGV, libc::SIGBUS] {
            // SAFETY: sigaction with a zeroed struct filled with our handler; the old
            // action is saved for chaining. SA_ONSTACK makes it run on the
            // alternate stack, since the faulting stack has no room left.
            unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_fault as *const () as usize;
                new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut new.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &new, &mut old) == 0 && sig == libc::SIGSEGV {
                    let _ = PREVIOUS.set(old);
                }
            }
        }
    });
}

/// An alternate signal stack for this thread, made only if the thread has none
/// (threads spawned by `std` already have one).
#[derive(Debug)]
pub(crate) struct AltStack {
    /// Our mapping, if we installed one.
    mapping: Option<(usize, usize)>,
}

impl AltStack {
    pub(crate) fn ensure() -> AltStack {
        const SIZE: usize = 64 * 1024;
        // SAFETY: queries this thread's alternate stack into a zeroed struct.
        let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above; a null new stack only reads the current one.
        unsafe { libc::sigaltstack(ptr::null(), &mut old) };
        if old.ss_flags & libc::SS_DISABLE == 0 {
            return AltStack { mapping: None };
        }
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return AltStack { mapping: None };
        }
        let st = libc::stack_t {
            ss_sp: p,
            ss_flags: 0,
            ss_size: SIZE,
        };
        // SAFETY: st describes the live mapping just made, which outlives its use
        // as the signal stack (Drop disables it before unmapping).
        unsafe { libc::sigaltstack(&st, ptr::null_mut()) };
        AltStack {
            mapping: Some((p as usize, SIZE)),
        }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        if let Some((p, len)) = self.mapping {
            let st = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disables the alternate stack first, then unmaps our mapping.
            unsafe {
                libc::sigaltstack(&st, ptr::null_mut());
                libc::munmap(p as *mut libc::c_void, len);
            }
        }
    }
}

/// Appends `n` in decimal to `buf` at `*at`; allocation-free, for the handler.
fn put_num(buf: &mut [u8], at: &mut usize, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(buf, at, &digits[i..]);
}

fn put(buf: &mut [u8], at: &mut usize, s: &[u8]) {
    let n = s.len().min(buf.len() - *at);
    buf[*at..*at + n].copy_from_slice(&s[..n]);
    *at += n;
}

extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let task = super::context::current_ptr();
    // SAFETY: a non-null CURRENT is the task running on this thread, whose
    // header the worker keeps alive while it runs; the fault interrupted that
    // task (or the worker between tasks, when CURRENT is null). Its fields are
    // plain memory: reading them allocates nothing and takes no lock.
    let task = unsafe { task.as_ref() };
    // A running task means a stack was mapped, so the page size is known and
    // this is a plain load (no sysconf in a signal handler).
    if let Some((t, page)) = task
        .map(|t| (t, page_size()))
        .filter(|&(t, page)| t.guard <= addr && addr < t.guard + page)
    {
        let mut buf = [0u8; 512];
        let mut at = 0;
        put(&mut buf, &mut at, b"netpark: task ");
        put_num(&mut buf, &mut at, t.id);
        if let Some(name) = &t.name {
            put(&mut buf, &mut at, b" \"");
            put(&mut buf, &mut at, &name.as_bytes()[..name.len().min(200)]);
            put(&mut buf, &mut at, b"\"");
        }
        put(&mut buf, &mut at, b" overflowed its stack of ");
        put_num(&mut buf, &mut at, t.stack_pages as u64 * page as u64);
        put(&mut buf, &mut at, b" bytes (raise it with task::Builder::stack_size or Runtime::builder().stack_size); aborting\n");
        // SAFETY: write(2) and abort(3) are async-signal-safe.
        unsafe {
            libc::write(2, buf.as_ptr().cast(), at);
            libc::abort();
        }
    }
    // Not a task's guard page: hand the fault to whoever was there before.
    match PREVIOUS.get() {
        Some(prev) if sig == libc::SIGSEGV && prev.sa_sigaction > libc::SIG_IGN => {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed as an SA_SIGINFO
                // function with this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig, info, ctx);
            } else {
                // SAFETY: a plain handler takes only the signal number.
                let f: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(prev.sa_sigaction) };
                f(sig);
            }
        }
        _ => {
            // SAFETY: restores the default action; returning re-executes the
            // faulting instruction, which then kills the process as usual.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
}
