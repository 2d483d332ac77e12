//! The table kept for the next boot (`$OVERLAYFW_PERSIST_DIR/TABLE.nft`): a successful apply
//! writes exactly what it loaded; a refused or unconfirmed apply never replaces it; a confirmed
//! one does, whoever confirms it; and loading the file after a flushed ruleset (a boot) gives a
//! table `diff` finds the same.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::netns::{self, Netns};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

struct Scene {
    ns: Netns,
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        Scene { ns: Netns::new(), dir: tempfile::tempdir().expect("tempdir") }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.ns.name(), env!("CARGO_BIN_EXE_overlayfw")])
            .args(args)
            .current_dir(root())
            .env("OVERLAYFW_STATE_DIR", self.dir.path().join("state"))
            .env("OVERLAYFW_PERSIST_DIR", self.dir.path().join("persist"))
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run overlayfw")
    }

    fn kept(&self) -> Option<String> {
        std::fs::read_to_string(self.persisted()).ok()
    }

    fn persisted(&self) -> PathBuf {
        self.dir.path().join("persist/overlayfw.nft")
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const V1: &[&str] =
    &["examples/nids-demo/nids.rules", "--inventory", "examples/nids-demo/topology.yaml"];
const V2: &[&str] = &["examples/blog/blog.rules"];

fn with<'a>(head: &[&'a str], files: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(files).copied().collect()
}

#[test]
fn apply_keeps_what_it_loaded_and_only_that() {
    if !netns::require_root() {
        return;
    }
    let s = Scene::new();
    let o = s.run(&with(&["apply"], V1));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let compiled = s.run(&with(&["compile"], V1));
    assert_eq!(s.kept().as_deref(), Some(String::from_utf8_lossy(&compiled.stdout).as_ref()));
    let first = s.kept();

    // A refused apply (a table of that name that overlayfw did not make) keeps the kept table.
    s.ns.exec(&["nft", "delete", "table", "ip", "overlayfw"]).expect("delete");
    s.ns.nft_load("table ip overlayfw {\n\tcomment \"someone else's\"\n}\n").expect("foreign");
    let o = s.run(&with(&["apply"], V2));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(s.kept(), first, "a refused apply replaced the kept table");
    s.ns.exec(&["nft", "delete", "table", "ip", "overlayfw"]).expect("delete");
    assert_eq!(s.run(&with(&["apply"], V1)).status.code(), Some(0));

    // Not confirmed: the previous table comes back and the kept one stays.
    let o = s.run(&with(&["apply", "--confirm", "1"], V2));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(s.kept(), first, "an unconfirmed apply replaced the kept table");

    // Confirmed from another process: now the new table is kept.
    let mut child = s.command(&with(&["apply", "--confirm", "30"], V2)).spawn().expect("spawn");
    let start = std::time::Instant::now();
    while s.run(&["confirm"]).status.code() != Some(0) {
        assert!(start.elapsed().as_secs() < 20, "apply never became confirmable");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(child.wait().expect("apply ends").code(), Some(0));
    let compiled = s.run(&with(&["compile"], V2));
    assert_eq!(s.kept().as_deref(), Some(String::from_utf8_lossy(&compiled.stdout).as_ref()));

    // A boot: the ruleset flushed, the kept file loaded as the unit does; diff finds it the same.
    s.ns.exec(&["nft", "flush", "ruleset"]).expect("flush");
    s.ns.exec(&["nft", "-f", s.persisted().to_str().expect("path")]).expect("load");
    let o = s.run(&with(&["diff"], V2));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn an_apply_in_another_namespace_keeps_nothing_unless_told_where() {
    if !netns::require_root() {
        return;
    }
    let s = Scene::new();
    // Where the host's boot unit looks: it may hold the host's own table.
    let host = Path::new("/var/lib/overlayfw/overlayfw.nft");
    let seen = || std::fs::metadata(host).ok().map(|m| (m.len(), m.modified().ok()));
    let before = seen();
    let o = s.command(&with(&["apply"], V2)).env_remove("OVERLAYFW_PERSIST_DIR").output();
    let o = o.expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(seen(), before, "an apply in a test namespace wrote the host's boot table");
    assert!(s.kept().is_none());
}
