//! The `overlayfw` binary: everything lives in the library; see `overlayfw::cli`.

/// mimalloc instead of the system allocator: a compile makes millions of small allocations
/// from two threads, and with glibc's malloc a 100,000-rule compile took 0.58 s instead of
/// 0.40 s (bench/compile.sh). Built without transparent huge pages (feature `no_thp`), which
/// kept 21 MiB resident for a 1,000-rule file (7 MiB without).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    overlayfw::cli::main()
}
