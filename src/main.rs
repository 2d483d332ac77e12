//! The `overlayfw` binary: everything lives in the library; see `overlayfw::cli`.

use std::ffi::c_long;

/// mimalloc instead of the system allocator: a compile makes millions of small allocations
/// from two threads, and with glibc's malloc a 100,000-rule compile took 0.58 s instead of
/// 0.40 s (bench/compile.sh). Built as mimalloc 2 without transparent huge pages (features
/// `v2`, `no_thp`): with THP a 1,000-rule file kept 21 MiB resident (7 MiB without).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The mimalloc options this binary sets, each with its value in mimalloc 2's `mi_option_t`
/// (include/mimalloc.h): neither the `mimalloc` crate nor libmimalloc-sys names these two.
#[derive(Clone, Copy, Debug)]
#[repr(i32)]
enum MiOption {
    /// `mi_option_purge_delay`: milliseconds before freed memory goes back to the system.
    PurgeDelay = 15,
    /// `mi_option_abandoned_reclaim_on_free`: a free reclaims a finished thread's segment.
    AbandonedReclaimOnFree = 26,
}

#[allow(unsafe_code)]
unsafe extern "C" {
    // Both are part of mimalloc's public C API, linked in by the `mimalloc` crate; a
    // `repr(i32)` enum passes as the C enum `mi_option_t`.
    fn mi_option_get(option: MiOption) -> c_long;
    fn mi_option_set(option: MiOption, value: c_long);
}

/// An option with mimalloc's documented default and the value this binary wants.
struct Setting {
    option: MiOption,
    default: c_long,
    value: c_long,
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
const SETTINGS: [Setting; 2] = [
    Setting { option: MiOption::PurgeDelay, default: 10, value: 0 },
    Setting { option: MiOption::AbandonedReclaimOnFree, default: 0, value: 1 },
];

fn option_get(option: MiOption) -> c_long {
    #[allow(unsafe_code)]
    // SAFETY: reading an option of mimalloc's public API with a valid `mi_option_t` value.
    unsafe {
        mi_option_get(option)
    }
}

/// Applies [`SETTINGS`], but only if every option reads its documented default: anything else
/// means the values are not the options named here (another mimalloc version), and the
/// allocator is then left alone. Called before any other thread exists (mimalloc's option
/// calls are not thread-safe).
fn set_allocator_options() {
    if SETTINGS.iter().all(|s| option_get(s.option) == s.default) {
        for s in &SETTINGS {
            #[allow(unsafe_code)]
            // SAFETY: setting an option with a valid `mi_option_t` value, on the only thread.
            unsafe {
                mi_option_set(s.option, s.value);
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    set_allocator_options();
    overlayfw::cli::main()
}

#[cfg(test)]
mod tests {
    /// The linked mimalloc reads each named option's documented default: the values in
    /// `MiOption` are the options they are named after (a mimalloc whose enum moved fails here
    /// instead of leaving the allocator untuned without a word).
    #[test]
    fn named_options_read_their_documented_defaults() {
        for s in &super::SETTINGS {
            assert_eq!(super::option_get(s.option), s.default, "{:?}", s.option);
        }
    }
}
