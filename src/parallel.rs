//! How many threads the compile uses, and the one way it fans work out over them. Every
//! parallel stage (parsing and resolving pieces of a file, the lints' chains, printing the
//! script, reading a live listing) cuts its work into independent items, runs them through
//! [`map`] and folds the results in order, so each gives the same result on any number of
//! threads (each stage has a test saying so).

use std::sync::atomic::{AtomicUsize, Ordering};

/// A cap on [`threads`] set by [`limit_threads`]; 0: none.
static THREAD_LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Threads worth using: one per available core, at most 8 (and at most the limit, if any).
pub fn threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from).min(8);
    match THREAD_LIMIT.load(Ordering::Relaxed) {
        0 => cores,
        limit => cores.min(limit),
    }
}

/// Caps the threads used from now on in this process (`None`: no cap). `diff` compiles on one
/// core and leaves the others to the `nft` listing it waits for anyway.
pub fn limit_threads(limit: Option<usize>) {
    THREAD_LIMIT.store(limit.map_or(0, |l| l.max(1)), Ordering::Relaxed);
}

/// `f` of every item, in order: each item on a thread of its own, the first on the calling
/// thread (so one item runs inline, without starting a thread).
pub fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let mut items = items.into_iter();
    let Some(first) = items.next() else { return Vec::new() };
    if items.len() == 0 {
        return vec![f(first)];
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items.map(|item| s.spawn(move || f(item))).collect();
        let mut out = vec![f(first)];
        out.extend(handles.into_iter().map(|h| h.join().expect("worker thread")));
        out
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_in_item_order() {
        assert_eq!(super::map(Vec::<u32>::new(), |x| x), Vec::<u32>::new());
        assert_eq!(super::map(vec![7], |x| x * 2), [14]);
        let slow_first = super::map(vec![30u64, 0, 10], |ms| {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            ms
        });
        assert_eq!(slow_first, [30, 0, 10]);
    }
}
