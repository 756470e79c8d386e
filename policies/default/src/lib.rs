//! mcpproxy's default policy, compiled to `policies/default.wasm` and embedded in the daemon.
//!
//! `#![no_std]` so the component imports nothing but the policy world (no WASI). It keeps no
//! state: every answer is a function of the arguments (see `decide`), settings arrive as the
//! `prepared` bytes produced by `configure` (see `settings`). It must never panic on any input.

#![no_std]

extern crate alloc;

mod bump;
mod decide;
mod review;
mod settings;

use alloc::string::String;
use alloc::vec::Vec;

wit_bindgen::generate!({
    path: "../../wit",
    world: "policy",
});

use exports::mcpproxy::policy::decisions::Guest;
use mcpproxy::policy::types::{
    ConfigDiff, DisableDecision, FailureEvent, ReviewDecision, ToolReview, Verdict,
};

struct DefaultPolicy;

impl Guest for DefaultPolicy {
    fn configure(settings: String) -> Result<Vec<u8>, String> {
        settings::parse(&settings).map(|s| s.encode())
    }

    fn should_disable(prepared: Vec<u8>, event: FailureEvent) -> DisableDecision {
        decide::should_disable(&settings::Settings::decode(&prepared), &event)
    }

    fn backoff(prepared: Vec<u8>, event: FailureEvent) -> u64 {
        decide::backoff(&settings::Settings::decode(&prepared), &event)
    }

    fn filter_reload(_prepared: Vec<u8>, diff: ConfigDiff) -> Vec<Verdict> {
        decide::filter_reload(&diff)
    }

    fn review_tools(_prepared: Vec<u8>, review: ToolReview) -> ReviewDecision {
        review::review_tools(&review)
    }
}

export!(DefaultPolicy);

#[global_allocator]
static ALLOC: bump::BumpAlloc = bump::BumpAlloc::new();

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// The canonical ABI's allocator. wit-bindgen leaves it out on wasip2 (where `std` normally
/// provides it), so a `no_std` component exports its own.
///
/// # Safety
/// Called only by the component-model runtime, with the canonical ABI's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use alloc::alloc::{Layout, alloc, realloc};
    if new_len == 0 {
        return align as *mut u8;
    }
    // SAFETY: the runtime passes a power-of-two `align` and sizes of its own allocations.
    let ptr = unsafe {
        if old_len == 0 {
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable();
    }
    ptr
}

/// `memcmp` for the compiler's byte-slice comparisons. wasip2's `compiler_builtins` expects
/// it from libc, which a `no_std` component does not link.
///
/// # Safety
/// `a` and `b` must be valid for `n` bytes (the compiler only emits calls that are).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: `i < n`, and both pointers are valid for `n` bytes.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// `bcmp`: equality-only `memcmp`, which LLVM may emit instead.
///
/// # Safety
/// As `memcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { memcmp(a, b, n) }
}
