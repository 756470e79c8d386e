//! The component's allocator: a bump allocator that never frees.
//!
//! The host runs every decision in a fresh instance, so memory never needs to be reused;
//! allocating from a zeroed static arena (then from `memory.grow` if a huge argument needs
//! more) avoids an allocator's set-up and the grow on every decision's first allocation.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// Enough for any ordinary decision; part of the module's zero-initialised memory.
const ARENA_SIZE: usize = 64 * 1024;
const PAGE: usize = 64 * 1024;

#[repr(C, align(16))]
struct Arena(UnsafeCell<[u8; ARENA_SIZE]>);

pub struct BumpAlloc {
    arena: Arena,
    /// Next free address, and the end of the current region (0: not started).
    next: UnsafeCell<usize>,
    end: UnsafeCell<usize>,
}

// SAFETY: a component instance is single-threaded.
unsafe impl Sync for BumpAlloc {}

impl BumpAlloc {
    pub const fn new() -> Self {
        BumpAlloc {
            arena: Arena(UnsafeCell::new([0; ARENA_SIZE])),
            next: UnsafeCell::new(0),
            end: UnsafeCell::new(0),
        }
    }
}

unsafe impl GlobalAlloc for BumpAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync`), and nothing else touches these cells.
        unsafe {
            let next = &mut *self.next.get();
            let end = &mut *self.end.get();
            if *end == 0 {
                *next = self.arena.0.get() as usize;
                *end = *next + ARENA_SIZE;
            }
            let start = (*next + layout.align() - 1) & !(layout.align() - 1);
            let Some(stop) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if stop <= *end {
                *next = stop;
                return start as *mut u8;
            }
            // Not enough room: fresh pages at the end of memory, page-aligned.
            let pages = (layout.size() + layout.align()).div_ceil(PAGE);
            let old = core::arch::wasm32::memory_grow(0, pages);
            if old == usize::MAX {
                return core::ptr::null_mut();
            }
            let base = old * PAGE;
            let start = (base + layout.align() - 1) & !(layout.align() - 1);
            *next = start + layout.size();
            *end = base + pages * PAGE;
            start as *mut u8
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}
