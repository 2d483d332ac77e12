//! The `overlayfw` binary: everything lives in the library; see `overlayfw::cli`.

fn main() -> std::process::ExitCode {
    overlayfw::cli::main()
}
