//! How many threads the compile uses, and the two ways it fans work out over them. Every
//! parallel stage (parsing and resolving pieces of a file, the lints' chains, reading a live
//! listing) cuts its work into independent items, runs them through [`map`] and folds the
//! results in order; printing the script, whose results are written out as they come, runs
//! through [`ordered_map`]. So each stage gives the same result on any number of threads (each
//! has a test saying so).

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

/// Items a worker of [`ordered_map`] may start past those handed to the sink, per thread.
const LEAD_PER_THREAD: usize = 2;

/// `work` of each index `0..count`, on `threads` worker threads, handed to `sink` in index
/// order as soon as those before it are handed (a result done early waits for its turn). No
/// worker starts an index `2 × threads` or more past the results handed out, so the results
/// held waiting stay few even when one item is slow: the sink can write a large output as it
/// is made, never holding it whole. The first error of `sink` stops the workers (those busy
/// finish their item) and is returned. One thread: everything runs on the calling thread.
pub fn ordered_map<R: Send, E>(
    count: usize,
    threads: usize,
    work: impl Fn(usize) -> R + Sync,
    mut sink: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E> {
    use std::sync::atomic::AtomicBool;
    use std::sync::{Condvar, Mutex, PoisonError};
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        return (0..count).try_for_each(|k| sink(work(k)));
    }
    let lead = LEAD_PER_THREAD * threads;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many results the sink has taken, and a wake-up for the workers waiting on it.
    let handed = (Mutex::new(0usize), Condvar::new());
    let advance = |to: usize| {
        *handed.0.lock().unwrap_or_else(PoisonError::into_inner) = to;
        handed.1.notify_all();
    };
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, R)>();
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop, work, handed) = (&next, &stop, &work, &handed);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= count {
                        break;
                    }
                    let mut done = handed.0.lock().unwrap_or_else(PoisonError::into_inner);
                    while k >= *done + lead && !stop.load(Ordering::Relaxed) {
                        done = handed.1.wait(done).unwrap_or_else(PoisonError::into_inner);
                    }
                    drop(done);
                    if stop.load(Ordering::Relaxed) || tx.send((k, work(k))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut early = std::collections::BTreeMap::new();
        let mut want = 0;
        for (k, result) in rx {
            early.insert(k, result);
            while let Some(result) = early.remove(&want) {
                if let Err(e) = sink(result) {
                    stop.store(true, Ordering::Relaxed);
                    advance(want);
                    return Err(e);
                }
                want += 1;
                advance(want);
            }
        }
        Ok(())
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

    /// Results reach the sink in index order whatever order the work finishes in, on any
    /// number of threads (more threads than items, too).
    #[test]
    fn ordered_map_hands_results_in_order() {
        for threads in [1, 2, 3, 8] {
            for count in [0, 1, 2, 7, 40] {
                let mut got = Vec::new();
                let done: Result<(), ()> = super::ordered_map(
                    count,
                    threads,
                    |k| {
                        // Later items finish first.
                        std::thread::sleep(std::time::Duration::from_micros(
                            ((count - k) * 50) as u64,
                        ));
                        k * 10
                    },
                    |r| {
                        got.push(r);
                        Ok(())
                    },
                );
                assert_eq!(done, Ok(()));
                let want: Vec<usize> = (0..count).map(|k| k * 10).collect();
                assert_eq!(got, want, "{threads} threads, {count} items");
            }
        }
    }

    /// While the sink is slow to take a result, the workers do not run ahead of it by
    /// `2 × threads` items or more.
    #[test]
    fn ordered_map_bounds_the_lead_over_the_sink() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        for threads in [2, 3] {
            let started = AtomicUsize::new(0);
            let mut handed = 0;
            let done: Result<(), ()> = super::ordered_map(
                200,
                threads,
                |k| {
                    started.fetch_max(k, Ordering::SeqCst);
                },
                |()| {
                    if handed % 50 == 0 {
                        // Time for quick workers to run far ahead, were they not held.
                        std::thread::sleep(std::time::Duration::from_millis(30));
                    }
                    let furthest = started.load(Ordering::SeqCst);
                    assert!(
                        furthest < handed + super::LEAD_PER_THREAD * threads,
                        "{threads} threads: item {furthest} started while handing item {handed}"
                    );
                    handed += 1;
                    Ok(())
                },
            );
            assert_eq!(done, Ok(()));
            assert_eq!(handed, 200);
        }
    }

    /// The sink's first error is returned, the sink is called no more, and the work stops
    /// within the lead instead of running through every item.
    #[test]
    fn ordered_map_stops_at_the_sinks_error() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        for threads in [1, 2, 4] {
            let worked = AtomicUsize::new(0);
            let mut handed = Vec::new();
            let done = super::ordered_map(
                10_000,
                threads,
                |k| {
                    worked.fetch_add(1, Ordering::SeqCst);
                    k
                },
                |k| {
                    handed.push(k);
                    if k == 3 { Err(format!("full at {k}")) } else { Ok(()) }
                },
            );
            assert_eq!(done, Err("full at 3".to_string()));
            assert_eq!(handed, [0, 1, 2, 3]);
            // No item is started `lead` or more past the three handed before the error.
            let bound = 3 + super::LEAD_PER_THREAD * threads;
            let worked = worked.load(Ordering::SeqCst);
            assert!(worked <= bound, "{threads} threads: {worked} items worked, bound {bound}");
            if threads == 1 {
                assert_eq!(worked, 4);
            }
        }
    }
}
