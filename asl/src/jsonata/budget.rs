//! The memory one JSONata evaluation may hold.
//!
//! Time, nesting and sequence length are bounded by the evaluator itself;
//! memory is not, and a few lines of JSONata can ask for more than any
//! machine has (`$s & $s` forty times over). Rust cannot recover from a
//! failed allocation, so the bound has to act before one fails: while an
//! expression is evaluated on a thread, every byte that thread allocates or
//! frees is counted here, and when the bytes it holds pass the limit the
//! evaluation is cancelled at its next step (jsonata-core checks a cancel
//! flag between steps). A string that doubles each step therefore stops
//! within one doubling of the limit.
//!
//! `asl` cannot see allocations by itself (it has no allocator of its own):
//! a program that wants the bound wraps its global allocator and calls
//! [`charge`] and [`refund`] (the coordinator does, see its `main.rs`).
//! Without that, nothing is counted and only the other limits apply.
//!
//! Everything here is thread-local and touched from inside the allocator:
//! it must never allocate, lock or panic. The counters are plain `Cell`s
//! (no destructor, so no lazy registration on first use); the cancel token
//! is read only while armed, which [`Armed::new`] does from ordinary code
//! first.

use jsonata_core::evaluator::CancelToken;
use std::cell::Cell;

thread_local! {
    /// Whether an evaluation on this thread is being counted.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// Bytes allocated minus bytes freed on this thread since arming (frees
    /// of older memory make it negative; that only leaves more room).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The bound on `LIVE`.
    static MAX: Cell<isize> = const { Cell::new(isize::MAX) };
    /// Whether `LIVE` passed `MAX` during this evaluation.
    static OVER: Cell<bool> = const { Cell::new(false) };
    /// The evaluation's cancel token.
    static TOKEN: Cell<Option<CancelToken>> = const { Cell::new(None) };
}

/// Counts an allocation of `bytes` on this thread (call it from a global
/// allocator's `alloc`, and with the new size from `realloc`).
#[inline]
pub fn charge(bytes: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            add(bytes as isize);
        }
    });
}

/// Counts a free of `bytes` on this thread (a global allocator's `dealloc`,
/// and the old size in `realloc`).
#[inline]
pub fn refund(bytes: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            add(-(bytes as isize));
        }
    });
}

#[cold]
fn over_limit() {
    let _ = OVER.try_with(|o| o.set(true));
    let _ = TOKEN.try_with(|t| {
        let token = t.take();
        if let Some(k) = &token {
            k.cancel();
        }
        t.set(token);
    });
}

fn add(delta: isize) {
    let Ok(live) = LIVE.try_with(|l| {
        let v = l.get().saturating_add(delta);
        l.set(v);
        v
    }) else {
        return;
    };
    if delta > 0 && MAX.try_with(Cell::get).is_ok_and(|max| live > max) {
        over_limit();
    }
}

/// Counting on this thread while it lives: created before an evaluation,
/// dropped after it.
pub(crate) struct Armed {
    /// The previous state, restored on drop (an evaluation inside another).
    previous: (bool, isize, isize, bool, Option<CancelToken>),
}

impl Armed {
    /// Counts from now on, against `max_bytes`, cancelling `token` when the
    /// bytes held pass it.
    pub(crate) fn new(max_bytes: usize, token: CancelToken) -> Self {
        let max = isize::try_from(max_bytes).unwrap_or(isize::MAX);
        // TOKEN first: it may register its destructor (and allocate) on
        // first use, which must happen while nothing is armed.
        let token = TOKEN.with(|t| t.replace(Some(token)));
        let previous = (
            ARMED.with(|a| a.replace(false)),
            LIVE.with(|l| l.replace(0)),
            MAX.with(|m| m.replace(max)),
            OVER.with(|o| o.replace(false)),
            token,
        );
        ARMED.with(|a| a.set(true));
        Self { previous }
    }

    /// Whether the bytes held passed the bound.
    pub(crate) fn exceeded(&self) -> bool {
        OVER.with(Cell::get)
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        let (armed, live, max, over, token) = std::mem::take(&mut self.previous);
        ARMED.with(|a| a.set(false));
        LIVE.with(|l| l.set(live));
        MAX.with(|m| m.set(max));
        OVER.with(|o| o.set(over));
        let _ = TOKEN.with(|t| t.replace(token));
        ARMED.with(|a| a.set(armed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_while_armed_and_cancels_past_the_bound() {
        charge(1 << 40);
        let token = CancelToken::new();
        let armed = Armed::new(1000, token.clone());
        charge(600);
        refund(200);
        charge(500);
        assert!(!armed.exceeded());
        assert!(!token.is_cancelled());
        charge(200);
        assert!(armed.exceeded());
        assert!(token.is_cancelled());
        drop(armed);
        assert!(!OVER.with(Cell::get));
        assert!(!ARMED.with(Cell::get));
    }

    #[test]
    fn frees_of_older_memory_leave_more_room() {
        let token = CancelToken::new();
        let armed = Armed::new(100, token.clone());
        refund(1000);
        charge(1050);
        assert!(!armed.exceeded());
    }
}
