//! The pre-commit and CI side of the CLI: `fmt`, `explain`, `completions`, `man`.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};

use super::{ColorArg, Exit, FormatArg, format, read_input, use_color, with_path};
use crate::diagnostic::{self, Sources};
use crate::files::write_atomically_with;
use crate::{explain as docs, fmt as layout, pipeline};

#[derive(Args, Debug)]
pub(super) struct FmtArgs {
    /// Rules files (`-` reads standard input and writes the result to standard output).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Change nothing: print the files that would change, and exit 1 if there are any.
    #[arg(long)]
    check: bool,
    /// How to print diagnostics of files that cannot be formatted (on standard error).
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    message_format: FormatArg,
    /// When to colour human diagnostics.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Args, Debug)]
pub(super) struct ExplainArgs {
    /// A diagnostic code such as E016 or W001; without it, every code with its summary.
    #[arg(value_name = "CODE")]
    code: Option<String>,
}

#[derive(Args, Debug)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Exit code: 0 formatted (or nothing to change), 1 `--check` found files to change or a file
/// has syntax errors (it is left alone), 2 IO errors. Every file is tried.
pub(super) fn fmt(a: FmtArgs) -> io::Result<Exit> {
    if a.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        eprintln!("overlayfw: `-` (standard input) may be given once");
        return Ok(Exit::Trouble);
    }
    let mut code = Exit::Clean;
    for path in &a.files {
        let c = match fmt_one(&a, path) {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(e),
            Err(e) => {
                eprintln!("overlayfw: {e}");
                Exit::Trouble
            }
        };
        code = code.max(c);
    }
    Ok(code)
}

fn fmt_one(a: &FmtArgs, path: &Path) -> io::Result<Exit> {
    let stdin = path == Path::new("-");
    let input = read_input(path)?.text;
    let original = input.bytes.clone();
    let name = input.name.clone();
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let id = pipeline::add_source(&mut sources, input, &mut diags);
    let result =
        if diags.is_empty() { layout::format(id, &sources.get(id).text) } else { Err(diags) };
    let formatted = match result {
        Ok(f) => f,
        Err(diags) => {
            let color = use_color(a.color, io::stderr().is_terminal());
            let text = diagnostic::render(&diags, &sources, format(a.message_format), color);
            let mut err = io::stderr().lock();
            err.write_all(text.as_bytes())?;
            writeln!(err, "overlayfw: {name} has syntax errors; it was not formatted")?;
            return Ok(Exit::Problems);
        }
    };
    let changed = formatted.text.as_bytes() != original.as_slice();
    let notes = if formatted.notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", formatted.notes.join(", "))
    };
    if a.check {
        if changed {
            let mut out = io::stdout().lock();
            writeln!(out, "{name}")?;
            out.flush()?;
            eprintln!("overlayfw: {name} is not formatted{notes}");
        }
        return Ok(Exit::problems_if(changed));
    }
    if stdin {
        let mut out = io::stdout().lock();
        out.write_all(formatted.text.as_bytes())?;
        out.flush()?;
    } else if changed {
        // Through a symlink to its target, keeping the file's permissions.
        write_atomically_with(path, |w| w.write_all(formatted.text.as_bytes()), None)
            .map_err(|e| with_path(e, path))?;
        eprintln!("formatted {name}{notes}");
    }
    Ok(Exit::Clean)
}

pub(super) fn explain(a: ExplainArgs) -> io::Result<Exit> {
    let mut out = io::stdout().lock();
    let Some(code) = a.code else {
        for c in diagnostic::CODES {
            writeln!(out, "{c}  {}", c.summary())?;
        }
        out.flush()?;
        return Ok(Exit::Clean);
    };
    match docs::doc(&code) {
        Some(text) => {
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(Exit::Clean)
        }
        None => {
            eprintln!("overlayfw: {}", docs::unknown(&code));
            Ok(Exit::Trouble)
        }
    }
}

/// The command line as completions offer it: without internal subcommands (clap cannot remove
/// one, so the visible ones are copied into a new command), and with every diagnostic code as
/// `explain`'s values (only here: `explain` itself answers an unknown code with a suggestion).
fn completion_command() -> clap::Command {
    let cli = super::Cli::command();
    let codes: Vec<&str> = diagnostic::CODES.iter().map(|c| c.as_str()).collect();
    let visible = cli.get_subcommands().filter(|s| !s.is_hide_set()).cloned().map(|s| {
        if s.get_name() == "explain" {
            s.mut_arg("code", |a| a.value_parser(clap::builder::PossibleValuesParser::new(&codes)))
        } else {
            s
        }
    });
    let mut cmd = clap::Command::new(cli.get_name().to_owned()).subcommands(visible);
    if let Some(about) = cli.get_about() {
        cmd = cmd.about(about.clone());
    }
    if let Some(version) = cli.get_version() {
        cmd = cmd.version(version.to_owned());
    }
    cmd
}

pub(super) fn completions(a: CompletionsArgs) -> io::Result<Exit> {
    let mut out = io::stdout().lock();
    clap_complete::generate(a.shell, &mut completion_command(), "overlayfw", &mut out);
    out.flush()?;
    Ok(Exit::Clean)
}

#[derive(Args, Debug)]
pub(super) struct ManArgs {
    /// Write every page into DIR (overlayfw.1, overlayfw-SUBCOMMAND.1 for each subcommand,
    /// overlayfw-rules.5) instead of printing overlayfw.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// The rule language and the inventory, written by hand: clap knows only the arguments.
const RULES_PAGE: &str = include_str!("../../docs/man/overlayfw-rules.5");

/// What overlayfw(1) says beyond its arguments.
const MAIN_PAGE_TAIL: &str = r#".SH EXIT STATUS
.TP
.B 0
clean (warnings may have been printed); \fBdiff\fR: the same; \fBapply\fR: applied (and confirmed).
.TP
.B 1
problems in the input, every one reported; \fBcheck \-\-deny\-warnings\fR: warnings too;
\fBfmt \-\-check\fR: files would change; \fBdiff\fR: different; \fBapply\fR: the kernel refused the
ruleset (nothing changed) or it was not confirmed (the previous table is back).
.TP
.B 2
usage, IO or internal errors; \fBdiff\fR: also rules that do not compile.
.SH ENVIRONMENT
.TP
.B OVERLAYFW_STATE_DIR
where \fBapply \-\-confirm\fR keeps its lock, pending record and restore script (default
\fI/run/overlayfw\fR), keyed by network namespace and table.
.TP
.B OVERLAYFW_PERSIST_DIR
where a successful \fBapply\fR (with \fB\-\-confirm\fR: once confirmed) keeps exactly what it
loaded, as \fITABLE\fB.nft\fR, for the next boot (default \fI/var/lib/overlayfw\fR, and only in
the machine's own network namespace; set it to keep an apply made in another namespace).
.TP
.B OVERLAYFW_NFT_TIMEOUT
seconds after which a run of \fBnft\fR is stopped (default 60).
.TP
.B NO_COLOR
no colour in diagnostics (as \fB\-\-color never\fR).
.SH FILES
.TP
.I /run/overlayfw/
the apply lock and a pending confirmation (see OVERLAYFW_STATE_DIR).
.TP
.I /var/lib/overlayfw/overlayfw.nft
the last applied table, loaded at boot by \fBoverlayfw.service\fR (an nft script that replaces only
\fBtable ip overlayfw\fR; the unit runs \fBnft \-f\fR on it, after nftables.service, before the
network, and never flushes anything).
.SH EXAMPLES
.TP
Compile with the built\-in inventory and look at the script:
.B overlayfw compile rules.txt
.TP
Check files in a pre\-commit hook or CI, one line per problem:
.B overlayfw check \-\-format short \-\-inventory topology.yaml *.rules
.TP
What would change on this router:
.B overlayfw diff rules.txt \-\-inventory topology.yaml
.TP
Apply, and put the previous table back unless confirmed within 60 seconds:
.B overlayfw apply rules.txt \-\-inventory topology.yaml \-\-confirm 60
.TP
Why a diagnostic:
.B overlayfw explain W101
.SH SEE ALSO
.BR overlayfw\-rules (5),
.BR nft (8),
.BR iptables\-extensions (8)
"#;

/// A page rendered by clap_mangen, with the `.TH` title first: clap_mangen puts its apostrophe
/// string definition (`.ie`/`.el`) before it, and tools that sniff for a man page expect the
/// title first (the definition still precedes every use).
fn render(cmd: clap::Command, tail: &str) -> io::Result<String> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    let page = String::from_utf8(page).expect("clap_mangen writes UTF-8");
    let (title, rest): (Vec<&str>, Vec<&str>) = page.lines().partition(|l| l.starts_with(".TH"));
    let mut out = String::new();
    for line in title.into_iter().chain(rest) {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(tail);
    Ok(out)
}

/// Every page: file name and text.
fn pages() -> io::Result<Vec<(String, String)>> {
    let cli = super::Cli::command();
    let mut pages = vec![("overlayfw.1".to_owned(), render(cli.clone(), MAIN_PAGE_TAIL)?)];
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("overlayfw-{}", sub.get_name());
        let see = ".SH SEE ALSO\n.BR overlayfw (1),\n.BR overlayfw\\-rules (5)\n";
        let page = render(
            sub.clone().name(name.clone()).bin_name(format!("overlayfw {}", sub.get_name())),
            see,
        )?;
        pages.push((format!("{name}.1"), page));
    }
    pages.push(("overlayfw-rules.5".to_owned(), RULES_PAGE.to_owned()));
    Ok(pages)
}

pub(super) fn man(a: ManArgs) -> io::Result<Exit> {
    let pages = pages()?;
    let Some(dir) = a.dir else {
        let mut out = io::stdout().lock();
        out.write_all(pages[0].1.as_bytes())?;
        out.flush()?;
        return Ok(Exit::Clean);
    };
    std::fs::create_dir_all(&dir).map_err(|e| with_path(e, &dir))?;
    for (name, text) in &pages {
        let path = dir.join(name);
        write_atomically_with(&path, |w| w.write_all(text.as_bytes()), None)
            .map_err(|e| with_path(e, &path))?;
    }
    Ok(Exit::Clean)
}
