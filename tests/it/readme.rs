//! The README's example is what the binary prints.

use std::path::Path;
use std::process::Command;

/// The lines of the README's example block that follow `$ COMMAND`, up to the next `$ ` line or
/// the end of the block.
fn shown_output(readme: &str, command: &str) -> String {
    let start = readme.find(&format!("$ {command}\n")).expect("the README shows the command")
        + command.len()
        + 3;
    let block = &readme[start..readme[start..].find("```").expect("block end") + start];
    let end = block.find("\n$ ").map_or(block.len(), |i| i + 1);
    block[..end].to_owned()
}

#[test]
fn the_readme_example_is_what_compile_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let rules = shown_output(&readme, "grep -v '^#' examples/blog/blog.rules");
    let source = std::fs::read_to_string(root.join("examples/blog/blog.rules")).expect("rules");
    let uncommented: String =
        source.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    assert_eq!(rules, uncommented, "the README shows other rules than the example file holds");
    let out = Command::new(env!("CARGO_BIN_EXE_overlayfw"))
        .args(["compile", "examples/blog/blog.rules"])
        .current_dir(root)
        .output()
        .expect("run overlayfw");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(
        shown_output(&readme, "overlayfw compile examples/blog/blog.rules"),
        printed,
        "README.md's example differs from what compile prints"
    );
}
