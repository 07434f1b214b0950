//! A cache hint: ask the CPU to start loading a line before it is needed.

/// Starts loading the cache line holding `addr` into every cache level.
/// A hint only: the instruction never faults, so any address will do, and
/// on targets without one it does nothing.
#[inline(always)]
pub(crate) fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 needs SSE, which every x86_64 CPU has; it reads no
    // memory architecturally and never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}
