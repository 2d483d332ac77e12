//! Builds native/mem.c: on the musl target it replaces musl's memcpy and memmove (the reason
//! and the measure are in that file); on other x86_64 Linux targets it is built under its own
//! names only, for the tests in src/mem.rs.

fn main() {
    println!("cargo::rerun-if-changed=native/mem.c");
    println!("cargo::rustc-check-cfg=cfg(overlayfw_mem)");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_ARCH") != "x86_64" || var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    let mut build = cc::Build::new();
    build
        .file("native/mem.c")
        .opt_level(2)
        // Nothing in the file may become a call to memcpy or memset.
        .flag("-ffreestanding")
        .flag("-fno-builtin")
        .flag_if_supported("-fno-tree-loop-distribute-patterns");
    if var("CARGO_CFG_TARGET_ENV") == "musl" {
        build.define("OVERLAYFW_LIBC", None);
    }
    build.compile("overlayfw_mem");
    println!("cargo::rustc-cfg=overlayfw_mem");
}
