//! The `overlayfw` binary: everything lives in the library; see `overlayfw::cli`.

/// mimalloc instead of the system allocator: a compile makes millions of small allocations
/// from two threads, and with glibc's malloc a 100,000-rule compile took 0.58 s instead of
/// 0.40 s (bench/compile.sh). Built as mimalloc 2 without transparent huge pages (features
/// `v2`, `no_thp`): with THP a 1,000-rule file kept 21 MiB resident (7 MiB without).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 2's `mi_option_t` (include/mimalloc.h).
const MI_OPTION_PURGE_DELAY: i32 = 15;
/// `mi_option_abandoned_reclaim_on_free`, in the same enum.
const MI_OPTION_ABANDONED_RECLAIM_ON_FREE: i32 = 26;

#[allow(unsafe_code)]
unsafe extern "C" {
    // Both are part of mimalloc's public C API, linked in by the `mimalloc` crate.
    fn mi_option_get(option: i32) -> std::ffi::c_long;
    fn mi_option_set(option: i32, value: std::ffi::c_long);
}

/// Memory freed between stages goes back to the system at once instead of after mimalloc's
/// default 10 ms: the next stage (the layout after the resolve, the netlink batch after the
/// compile) then reuses those pages instead of adding to the peak. A 100,000-rule
/// `apply --backend netlink` peaked at 120 MiB with the delay, 104 MiB without.
///
/// And memory a finished thread took, freed by another (the resolve's pieces, joined on the
/// main thread), goes back as well: without `abandoned_reclaim_on_free` it stayed with the
/// finished thread's segments until some later allocation reclaimed them, and joining the
/// pieces of a 100,000-rule file added 4.8 MiB to the peak instead of 2.3.
fn purge_at_once() {
    #[allow(unsafe_code)]
    // SAFETY: plain option calls with valid option indexes, before any other thread exists.
    unsafe {
        // 10 and 0 are the documented defaults: a different value means the indexes are not
        // the options we think (another mimalloc version), so leave the allocator alone.
        if mi_option_get(MI_OPTION_PURGE_DELAY) == 10
            && mi_option_get(MI_OPTION_ABANDONED_RECLAIM_ON_FREE) == 0
        {
            mi_option_set(MI_OPTION_PURGE_DELAY, 0);
            mi_option_set(MI_OPTION_ABANDONED_RECLAIM_ON_FREE, 1);
        }
    }
}

fn main() -> std::process::ExitCode {
    purge_at_once();
    overlayfw::cli::main()
}
