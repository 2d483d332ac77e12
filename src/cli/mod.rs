//! Command-line interface: arguments → a pipeline call → output and an exit code.
//! Exit codes: 0 clean (warnings allowed), 1 problems in the input, 2 usage, IO or internal.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod tools;

use crate::diagnostic::{self, Code, Sources};
use crate::files::write_atomically_with;
use crate::ir::Ruleset;
use crate::pipeline::{self, Rules, Text};
use crate::{diff, emit, live, resolve};

#[derive(Parser, Debug)]
#[command(
    name = "overlayfw",
    version,
    about = "Compile VNS3 overlay firewall rules into an nftables ruleset",
    long_about = "Compile VNS3 overlay firewall rules into an nftables ruleset.\n\n\
        overlayfw reads the iptables-style lines of VNS3 cloud overlay appliances (one rule a \
        line; see overlayfw-rules(5)), resolves container names, variables, FWsets and \
        interface aliases against a topology inventory, and writes one nftables table \
        (`table ip overlayfw`) that replaces itself atomically and leaves every other table \
        alone. COPY lines become `dup` rules that mirror overlay traffic to a network \
        intrusion detection container. An option it cannot translate exactly is an error, \
        never dropped; every problem in a file is reported at once, at FILE:LINE:COL."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile rules files into one nft script that atomically replaces overlayfw's table.
    Compile(CompileArgs),
    /// Report every problem in rules files (and the inventory) without writing anything.
    ///
    /// Rules are IPv4 (`table ip`): an IPv6 address in a rule is an error, and IPv6 traffic is
    /// not filtered by the rules at all. `ipv6: drop` in the inventory makes overlayfw also own
    /// `table ip6`, dropping IPv6 to and through the router but for loopback, replies and what
    /// IPv6 needs to work (ICMPv6 errors, neighbour discovery).
    Check(CheckArgs),
    /// Compare what the rules compile to with the live table (or a saved `nft -j` dump).
    Diff(DiffArgs),
    /// Replace overlayfw's table in the kernel in one transaction.
    Apply(ApplyArgs),
    /// Confirm a pending `apply --confirm` in this network namespace.
    Confirm(ConfirmArgs),
    /// Packets and bytes of the live table by source line, lines never hit last.
    Stats(StatsArgs),
    /// Rewrite rules files in the canonical layout (or, with --check, list those that differ).
    Fmt(tools::FmtArgs),
    /// Explain a diagnostic code (what it finds, why it matters, an example, the fix).
    Explain(tools::ExplainArgs),
    /// Print a shell completion script.
    Completions(tools::CompletionsArgs),
    /// Print the manual page (roff) on standard output, or write every page with --dir.
    Man(tools::ManArgs),
    /// Internal: started by `apply --confirm`; restores the previous table at the deadline
    /// unless confirmed.
    #[command(hide = true)]
    Watchdog(WatchdogArgs),
    /// Internal: views of the compiler's intermediate forms, for reviews and bug reports.
    #[command(hide = true)]
    Debug(DebugArgs),
}

#[derive(Args, Debug)]
struct DebugArgs {
    #[command(subcommand)]
    view: DebugView,
}

#[derive(Subcommand, Debug)]
enum DebugView {
    /// Print the IR (chains with their hooks, each rule's matches, action and origin) as text.
    Ir(DebugIrArgs),
}

#[derive(Args, Debug)]
struct DebugIrArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    table: TableArg,
    /// Show the IR after `compile --optimize`'s merges.
    #[arg(long)]
    optimize: bool,
    /// How to print diagnostics (on standard error).
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    message_format: FormatArg,
}

#[derive(Args, Debug)]
struct WatchdogArgs {
    #[command(flatten)]
    table: TableArg,
    /// The pending change to watch (its files' key).
    #[arg(long)]
    id: String,
    #[arg(long, value_parser = confirm_seconds())]
    seconds: u64,
}

/// The longest `--confirm`: a day. Bounded when the arguments are read, so that no deadline
/// can overflow after the kernel was changed.
const MAX_CONFIRM_SECONDS: u64 = 86_400;

/// A warning code for `--allow`: an unknown code or an error's is a usage error (exit 2).
fn allowed_code(text: &str) -> Result<Code, String> {
    match Code::parse(text) {
        Some(code) if code.as_str().starts_with('W') => Ok(code),
        Some(code) => Err(format!("{code} is an error; errors cannot be allowed, only warnings")),
        None => Err(crate::explain::unknown(text)),
    }
}

fn confirm_seconds() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=MAX_CONFIRM_SECONDS)
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// Rules files (`-` reads standard input).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Topology inventory (YAML). Without it, a stock VNS3 manager is assumed. Repeatable:
    /// later files add to earlier ones (a fleet's common file, then the router's); changing an
    /// entry an earlier file gave is an error.
    #[arg(long, value_name = "FILE")]
    inventory: Vec<PathBuf>,
    /// Accept a warning everywhere: its code (`W101`) is not reported. Repeatable. Errors
    /// cannot be allowed. To accept one rule's warning, write `# overlayfw: allow W101 (reason)`
    /// on the line before it.
    #[arg(long, value_name = "CODE", value_parser = allowed_code)]
    allow: Vec<Code>,
    /// When to colour human diagnostics.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Args, Debug)]
struct TableArg {
    /// Name of the nft table (`table ip NAME`).
    #[arg(long, default_value = "overlayfw", value_name = "NAME")]
    table: String,
}

#[derive(Args, Debug)]
struct CompileArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    table: TableArg,
    /// Write the script here (atomically) instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// What to write: an nft script, or the libnftables JSON that `nft -j -f` loads.
    #[arg(long, value_enum, default_value_t = OutputArg::Nft)]
    format: OutputArg,
    /// How to print diagnostics (on standard error).
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    message_format: FormatArg,
    /// Merge runs of rules into sets, concatenations and DNAT maps where that is provably the
    /// same policy (fewer rules: faster to load and to match).
    #[arg(long)]
    optimize: bool,
    /// With --optimize: tell on standard error what was merged, from which lines.
    #[arg(long, requires = "optimize")]
    explain_merges: bool,
}

#[derive(Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// How to print diagnostics (the same flag as every other subcommand's; `--format` is
    /// kept as its old name).
    #[arg(long, alias = "format", value_enum, default_value_t = FormatArg::Human)]
    message_format: FormatArg,
    /// Exit with 1 when there are warnings, as with errors.
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Args, Debug)]
struct DiffArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    table: TableArg,
    /// Compare with a saved `nft -j list ruleset` (or `list table`) dump instead of the kernel.
    #[arg(long, value_name = "DUMP.json")]
    against: Option<PathBuf>,
    /// Compare with what `compile --optimize` makes of the files.
    #[arg(long)]
    optimize: bool,
    /// How to read the live table: netlink (when built with it) answers "same" without nft.
    #[arg(long, value_enum, default_value_t = BackendArg::default())]
    backend: BackendArg,

    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormatArg::Human)]
    format: PlanFormatArg,
    /// How to print diagnostics (on standard error).
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    message_format: FormatArg,
}

#[derive(Args, Debug)]
struct ApplyArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    table: TableArg,
    /// How to talk to the kernel: netlink (when built with it) changes only what differs.
    #[arg(long, value_enum, default_value_t = BackendArg::default())]
    backend: BackendArg,
    /// Apply what `compile --optimize` makes of the files.
    #[arg(long)]
    optimize: bool,
    /// Replace the whole table (every counter starts again) instead of changing only what
    /// differs (through nft: rewriting only the chains and sets that differ).
    #[arg(long)]
    replace: bool,

    /// Print the plan (as `diff` does) and change nothing; exit 1 when it would change something.
    #[arg(long)]
    dry_run: bool,
    /// Restore the previous table unless confirmed within SECONDS, 1 to 86400 (Enter, or
    /// `overlayfw confirm`).
    #[arg(long, value_name = "SECONDS", value_parser = confirm_seconds())]
    confirm: Option<u64>,
    /// Replace the table even if overlayfw did not make it (its comment is not overlayfw's),
    /// such as iptables-nft's `nat`.
    #[arg(long)]
    force: bool,
    /// Print nothing when all goes well (for cron): only errors and warnings.
    #[arg(long, short)]
    quiet: bool,
    /// How to print the plan of --dry-run.
    #[arg(long, value_enum, default_value_t = PlanFormatArg::Human)]
    format: PlanFormatArg,
    /// How to print diagnostics (on standard error).
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    message_format: FormatArg,
}

#[derive(Args, Debug)]
struct StatsArgs {
    /// The rules files applied (compiled to map the rules back to lines, and only their
    /// lines shown); without them, the lines recorded by the last apply.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Topology inventory (YAML) of the files; repeatable, merged in order as for `compile`.
    #[arg(long, value_name = "FILE")]
    inventory: Vec<PathBuf>,
    /// The files were applied with `--optimize`.
    #[arg(long)]
    optimize: bool,
    #[command(flatten)]
    table: TableArg,
    /// How to read the kernel's counters.
    #[arg(long, value_enum, default_value_t = BackendArg::default())]
    backend: BackendArg,
    /// How to print them: a table, or a JSON array of objects (`file`, `line`, `chain`,
    /// `packets`, `bytes`, `rules`, `merged`, `note`).
    #[arg(long, value_enum, default_value_t = PlanFormatArg::Human)]
    format: PlanFormatArg,
}

#[derive(Args, Debug)]
struct ConfirmArgs {
    #[command(flatten)]
    table: TableArg,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutputArg {
    Nft,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PlanFormatArg {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BackendArg {
    Nft,
    Netlink,
}

impl Default for BackendArg {
    /// Netlink where the build has it: it changes only what differs.
    fn default() -> BackendArg {
        if cfg!(feature = "netlink") { BackendArg::Netlink } else { BackendArg::Nft }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// rustc-style, with the source line and a caret.
    Human,
    /// `FILE:LINE:COL: error[CODE]: message (help: HELP)`, one per line.
    Short,
    /// A JSON array of objects.
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// GitHub Actions workflow commands (`::error file=FILE::message`).
    Github,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

/// Parses arguments and runs; the exit code for `main`.
/// The exit code of every subcommand (ripgrep's convention).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Exit {
    /// Clean (warnings may have been printed); `diff`: the same; `apply`: applied.
    Clean = 0,
    /// Problems in the input (every one reported); `diff`: different; `apply`: refused or not
    /// confirmed; `fmt --check`: files would change.
    Problems = 1,
    /// Usage, IO or internal errors.
    Trouble = 2,
}

impl Exit {
    fn problems_if(problems: bool) -> Exit {
        if problems { Exit::Problems } else { Exit::Clean }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap: help and version are not errors.
            return if e.use_stderr() { Exit::Trouble } else { Exit::Clean }.into();
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Clean.into(),
        Err(e) => {
            eprintln!("overlayfw: {e}");
            Exit::Trouble.into()
        }
    }
}

fn run(cli: Cli) -> io::Result<ExitCode> {
    let code = match cli.command {
        Command::Compile(a) => compile(a),
        Command::Check(a) => check(a),
        Command::Diff(a) => diff(a),
        Command::Stats(a) => stats(a),
        Command::Apply(a) => apply(a),
        Command::Confirm(a) => confirm(a),
        Command::Fmt(a) => tools::fmt(a),
        Command::Explain(a) => tools::explain(a),
        Command::Completions(a) => tools::completions(a),
        Command::Man(a) => tools::man(a),
        Command::Debug(DebugArgs { view: DebugView::Ir(a) }) => debug_ir(a),
        // The watchdog's exit code is a message to the applying process, not a user's.
        Command::Watchdog(a) => return watchdog(a).map(ExitCode::from),
    };
    code.map(ExitCode::from)
}

/// Inputs larger than this are refused without reading them whole: 64 MiB is some 800,000
/// rules; beyond that, memory (about 25 times the input while compiling) would grow without a
/// bound the user chose.
pub const MAX_INPUT: u64 = 64 << 20;

/// Saved listings (`diff --against`) larger than this are refused: `nft -j` writes some 400
/// bytes a rule, so 256 MiB is over 600,000 rules, and reading one costs about its size.
pub const MAX_LISTING: u64 = 256 << 20;

fn too_large(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{name}: larger than {} MiB, the limit for one input", MAX_INPUT >> 20),
    )
}

/// Reads one input; `-` is standard input. A regular file stays open: the compile may read a
/// large one again rather than hold its text (`stream`).
fn read_input(path: &Path) -> io::Result<Rules> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        io::stdin().lock().take(MAX_INPUT + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_INPUT {
            return Err(too_large("<stdin>"));
        }
        return Ok(Rules { text: Text { name: "<stdin>".to_string(), bytes }, file: None });
    }
    let mut file = std::fs::File::open(path).map_err(|e| with_path(e, path))?;
    // Sized from the file's length (a regular file), so the text has no growth slack.
    let meta = file.metadata().map_err(|e| with_path(e, path))?;
    let size = meta.len().min(MAX_INPUT + 1);
    bytes.reserve_exact(usize::try_from(size).unwrap_or(0));
    (&mut file).take(MAX_INPUT + 1).read_to_end(&mut bytes).map_err(|e| with_path(e, path))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(too_large(&crate::text::safe_name(&path.display().to_string())));
    }
    let text = Text { name: path.display().to_string(), bytes };
    Ok(Rules { text, file: meta.is_file().then_some(file) })
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    let name = path.display().to_string();
    io::Error::new(e.kind(), format!("{}: {e}", crate::text::safe_name(&name)))
}

fn read_inputs(common: &CommonArgs) -> io::Result<(Vec<Rules>, Vec<Text>)> {
    if common.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "`-` (standard input) may be given once",
        ));
    }
    let files = common.files.iter().map(|p| read_input(p)).collect::<io::Result<Vec<_>>>()?;
    let inventory = common
        .inventory
        .iter()
        .map(|p| read_input(p).map(|r| r.text))
        .collect::<io::Result<_>>()?;
    Ok((files, inventory))
}

fn format(f: FormatArg) -> diagnostic::Format {
    match f {
        FormatArg::Human => diagnostic::Format::Human,
        FormatArg::Short => diagnostic::Format::Short,
        FormatArg::Json => diagnostic::Format::Json,
        FormatArg::Sarif => diagnostic::Format::Sarif,
        FormatArg::Github => diagnostic::Format::Github,
    }
}

fn use_color(c: ColorArg, terminal: bool) -> bool {
    match c {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => terminal && std::env::var_os("NO_COLOR").is_none(),
    }
}

fn check(a: CheckArgs) -> io::Result<Exit> {
    let (files, inventory) = read_inputs(&a.common)?;
    let mut sources = Sources::new();
    let mut compiled = pipeline::compile_files(&mut sources, files, inventory, "overlayfw")?;
    compiled.allow(&a.common.allow);
    let mut out = io::stdout().lock();
    let color = use_color(a.common.color, io::stdout().is_terminal());
    let fmt = format(a.message_format);
    // JSON and SARIF consumers expect a document even when there is nothing to report.
    let always = matches!(fmt, diagnostic::Format::Json | diagnostic::Format::Sarif);
    if !compiled.diagnostics.is_empty() || always {
        out.write_all(diagnostic::render(&compiled.diagnostics, &sources, fmt, color).as_bytes())?;
    }
    out.flush()?;
    builtin_inventory_note(&a.common, &compiled.diagnostics);
    let warned = compiled.diagnostics.iter().any(|d| !d.is_error());
    let code = Exit::problems_if(compiled.has_errors() || (a.deny_warnings && warned));
    left_to_exit(compiled);
    Ok(code)
}

/// Ends a large value's life without running its destructors. Only for the values a command
/// is done with just before the process exits: the system takes the memory back at once,
/// where freeing a 100,000-rule ruleset allocation by allocation took 12 ms (4% of `compile`).
fn left_to_exit<T>(value: T) {
    std::mem::forget(value);
}

/// Reads and compiles; prints diagnostics to standard error. `Err(code)`: stop with it.
fn build(common: &CommonArgs, table: &str, fmt: FormatArg) -> io::Result<Result<Ruleset, Exit>> {
    if let Err(msg) = resolve::check_table_name(table) {
        eprintln!("overlayfw: {msg}");
        return Ok(Err(Exit::Trouble));
    }
    let (files, inventory) = read_inputs(common)?;
    let mut sources = Sources::new();
    let mut compiled = pipeline::compile_files(&mut sources, files, inventory, table)?;
    compiled.allow(&common.allow);
    let color = use_color(common.color, io::stderr().is_terminal());
    if !compiled.diagnostics.is_empty() {
        let text = diagnostic::render(&compiled.diagnostics, &sources, format(fmt), color);
        io::stderr().lock().write_all(text.as_bytes())?;
    }
    builtin_inventory_note(common, &compiled.diagnostics);
    Ok(compiled.ruleset.ok_or(Exit::Problems))
}

/// Names an unknown interface, variable or name was looked up in: without `--inventory`, the
/// built-in stock manager's, which a reader may not suspect (on standard error, so that JSON
/// and SARIF on standard output stay documents).
fn builtin_inventory_note(common: &CommonArgs, diags: &[diagnostic::Diagnostic]) {
    let unknown_name =
        |d: &&diagnostic::Diagnostic| matches!(d.code, Code::E015 | Code::E016 | Code::E017);
    if common.inventory.is_empty() && diags.iter().any(|d| unknown_name(&d)) {
        eprintln!(
            "note: no --inventory was given, so names were checked against the built-in one (a stock VNS3 manager: eth0/public, tun0/overlay, plugin0/plugins, no plugins, variables or FWsets beyond the built-in ones); pass your topology with --inventory FILE"
        );
    }
}

fn compile(a: CompileArgs) -> io::Result<Exit> {
    let mut ruleset = match build(&a.common, &a.table.table, a.message_format)? {
        Ok(rs) => rs,
        Err(code) => return Ok(code),
    };
    if a.optimize {
        let merges = crate::optimize::optimize(&mut ruleset);
        if a.explain_merges {
            let mut err = io::stderr().lock();
            for m in &merges {
                let lines: Vec<String> = m
                    .origins
                    .iter()
                    .map(|o| format!("{}:{}", ruleset.files.name(o.file), o.line))
                    .collect();
                writeln!(
                    err,
                    "{}: merged {} rules ({}) into: {}",
                    m.chain,
                    m.count,
                    lines.join(", "),
                    m.into
                )?;
            }
            let saved: usize = merges.iter().map(|m| m.count - 1).sum();
            writeln!(err, "{} merges, {saved} rules fewer", merges.len())?;
        }
    }
    crate::layout::chunk::chunk(&mut ruleset);
    match a.format {
        // Written while it is printed: the whole script is never held.
        OutputArg::Nft => {
            write_output_with(a.output.as_deref(), |w| emit::write_script(&ruleset, w))?
        }
        OutputArg::Json => {
            let mut t = serde_json::to_string_pretty(&emit::json::script(&ruleset)).expect("JSON");
            t.push('\n');
            write_output(a.output.as_deref(), &[t])?
        }
    }
    left_to_exit(ruleset);
    Ok(Exit::Clean)
}

/// `debug ir`: the IR as [`crate::dump`] writes it, on standard output.
fn debug_ir(a: DebugIrArgs) -> io::Result<Exit> {
    let mut ruleset = match build(&a.common, &a.table.table, a.message_format)? {
        Ok(rs) => rs,
        Err(code) => return Ok(code),
    };
    if a.optimize {
        crate::optimize::optimize(&mut ruleset);
    }
    crate::layout::chunk::chunk(&mut ruleset);
    let mut out = io::stdout().lock();
    out.write_all(crate::dump::ruleset(&ruleset).as_bytes())?;
    out.flush()?;
    Ok(Exit::Clean)
}

/// Writes the pieces of a text, in order, to the file (atomically) or to standard output.
fn write_output(path: Option<&Path>, pieces: &[String]) -> io::Result<()> {
    write_output_with(path, |w| pieces.iter().try_for_each(|p| w.write_all(p.as_bytes())))
}

/// What `write` writes, to the file (atomically: nothing is left half-written) or to standard
/// output.
fn write_output_with(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    match path {
        None => {
            let mut out = io::stdout().lock();
            write(&mut out)?;
            out.flush()
        }
        Some(path) => write_atomically_with(path, write, None).map_err(|e| with_path(e, path)),
    }
}

fn print_plan(plan: &diff::Plan, fmt: PlanFormatArg) -> io::Result<()> {
    let text = match fmt {
        PlanFormatArg::Human => plan.human(),
        PlanFormatArg::Json => {
            let mut t = serde_json::to_string_pretty(&plan.json()).expect("JSON");
            t.push('\n');
            t
        }
    };
    write_output(None, &[text])
}

/// The live side: a saved dump, or the kernel's table in this namespace.
fn live_model(table: &str, against: Option<&Path>) -> Result<Option<diff::Model>, String> {
    let bytes = match against {
        Some(path) => read_listing(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => match live::nft::list_table_json_bytes(table) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(e) => return Err(with_live_flags(table, e.to_string())),
        },
    };
    let mut model = diff::from_listing_bytes(&bytes, table).map_err(|e| match against {
        Some(p) => format!("{}: {e}", p.display()),
        None => with_live_flags(table, e),
    })?;
    // nft -j shows only that the table has flags (nft 1.0.6 prints garbage for them): which
    // ones, the text listing tells.
    if let Some(m) = model.as_mut().filter(|m| against.is_none() && !m.flags.is_empty()) {
        match live::flags::table_flags(table).map_err(|e| e.to_string())? {
            Some(flags) if !flags.is_empty() => m.flags = flags,
            // Gone or changed since the JSON listing: keep "flags, unreadable", a difference.
            _ => {}
        }
    }
    Ok(model)
}

/// A failed JSON listing of the live table, and the table's flags if it has any: nft 1.0.6
/// can print cut-off JSON, or crash, listing a table with flags.
fn with_live_flags(table: &str, error: String) -> String {
    match live::flags::table_flags(table) {
        Ok(Some(flags)) if !flags.is_empty() => format!(
            "{error}\n(the live table ip {table} has flags {}; nft 1.0.6 cannot list a table with flags as JSON reliably)",
            flags.join(",")
        ),
        _ => error,
    }
}

/// Reads a saved `nft -j` listing, at most [`MAX_LISTING`] bytes; something that does not
/// begin as a JSON object (`/dev/zero`, a binary file) is refused after its first block.
fn read_listing(path: &Path) -> io::Result<Vec<u8>> {
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB, the limit for a listing", MAX_LISTING >> 20),
        )
    };
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() > MAX_LISTING {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    if meta.is_file() {
        bytes.reserve_exact(usize::try_from(meta.len()).unwrap_or(0));
    }
    let mut reader = io::BufReader::with_capacity(64 << 10, file.take(MAX_LISTING + 1));
    let mut checked = false;
    loop {
        let block = reader.fill_buf()?;
        if block.is_empty() {
            break;
        }
        if !checked {
            match block.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{') => checked = true,
                Some(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "not an nft JSON listing (it does not begin with `{`)",
                    ));
                }
                None => {}
            }
        }
        bytes.extend_from_slice(block);
        let n = block.len();
        reader.consume(n);
    }
    if bytes.len() as u64 > MAX_LISTING {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads the live side on another thread, so that listing a large table with `nft` (the
/// slowest step) overlaps with compiling the rules.
fn live_model_in_background(
    table: &str,
    against: Option<&Path>,
) -> std::thread::JoinHandle<Result<Option<diff::Model>, String>> {
    let (table, against) = (table.to_string(), against.map(Path::to_path_buf));
    std::thread::spawn(move || live_model(&table, against.as_deref()))
}

fn diff(a: DiffArgs) -> io::Result<Exit> {
    if let Some(why) = live::apply::netlink_missing(backend(a.backend)) {
        eprintln!("overlayfw: {why}");
        return Ok(Exit::Trouble);
    }
    #[cfg(feature = "netlink")]
    if a.against.is_none() && backend(a.backend) == live::apply::Backend::Netlink {
        return diff_netlink(a);
    }
    diff_nft(a)
}

/// `diff` through netlink: "unchanged since the last apply" from the ruleset generation alone,
/// else "same" from one netlink read of the table (made while the rules compile, unless the
/// generation is the last apply's); only a table that differs is listed by `nft -j` for the
/// plan.
#[cfg(feature = "netlink")]
fn diff_netlink(a: DiffArgs) -> io::Result<Exit> {
    let table = a.table.table.clone();
    let generation = live::netlink::read::generation().ok();
    let recorded = generation.is_some_and(|g| live::record::made(&table, g));
    let reader = (!recorded).then(|| {
        let table = table.clone();
        std::thread::spawn(move || live::netlink::read::read_table(&table))
    });
    let mut ruleset = match build(&a.common, &table, a.message_format)? {
        Ok(rs) => rs,
        Err(_) => return Ok(Exit::Trouble),
    };
    if a.optimize {
        crate::optimize::optimize(&mut ruleset);
    }
    crate::layout::chunk::chunk(&mut ruleset);
    let unchanged = recorded
        && generation.is_some_and(|g| {
            live::record::unchanged_since(&table, g, &ruleset.input_hash, a.optimize)
        });
    let same = unchanged
        || match reader.map(|r| r.join().expect("table reader")) {
            Some(Ok(live)) => live::netlink::incremental::same_as(&ruleset, &live).unwrap_or(false),
            Some(Err(_)) => false,
            None => live::netlink::incremental::same(&ruleset).unwrap_or(false),
        };
    if same {
        let plan = diff::same(&table).with_ip6(diff::plan6_same(&table, ruleset.ipv6));
        match (a.format, unchanged) {
            (PlanFormatArg::Human, true) => {
                let same = plan.human();
                println!("{} (unchanged since the last apply)", same.trim_end());
            }
            _ => print_plan(&plan, a.format)?,
        }
        return Ok(Exit::Clean);
    }
    drop(ruleset);
    diff_nft(a)
}

fn diff_nft(a: DiffArgs) -> io::Result<Exit> {
    if a.against.is_none() {
        if let Err(msg) = live::nft::check_available() {
            eprintln!("overlayfw: {msg}");
            return Ok(Exit::Trouble);
        }
        // `nft -j list` takes many times longer than the compile and runs beside it: a compile
        // on one core finishes well before it, and leaves nft a core of its own.
        crate::parallel::limit_threads(Some(1));
    }
    let live = live_model_in_background(&a.table.table, a.against.as_deref());
    let mut ruleset = match build(&a.common, &a.table.table, a.message_format)? {
        Ok(rs) => rs,
        // `diff` keeps 1 for "different": input errors are errors here.
        Err(_) => return Ok(Exit::Trouble),
    };
    if a.optimize {
        crate::optimize::optimize(&mut ruleset);
    }
    crate::layout::chunk::chunk(&mut ruleset);
    // Our side's model is ready before the listing is, which is then read on every core.
    let ours = diff::from_ruleset(&ruleset);
    let ipv6 = ruleset.ipv6;
    drop(ruleset);
    crate::parallel::limit_threads(None);
    let live = match live.join().expect("live reader thread") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("overlayfw: {e}");
            return Ok(Exit::Trouble);
        }
    };
    let plan = diff::plan(&a.table.table, &ours, live.as_ref());
    let plan = match ip6_plan(&a.table.table, ipv6, a.against.as_deref()) {
        Ok(p) => plan.with_ip6(p),
        Err(e) => {
            eprintln!("overlayfw: {e}");
            return Ok(Exit::Trouble);
        }
    };
    print_plan(&plan, a.format)?;
    Ok(Exit::problems_if(!plan.is_same()))
}

/// The plan for `table ip6` ([`crate::ip6`]) beside the `ip` table's: with `ipv6: drop`,
/// against the live (or saved) one; without it, its deletion when the live one is
/// overlayfw's (a saved listing does not say whose a table is: not compared).
fn ip6_plan(
    table: &str,
    ipv6: crate::ip6::Ipv6,
    against: Option<&Path>,
) -> Result<Option<diff::Plan>, String> {
    use live::apply::Ip6Table;
    let want = ipv6.managed();
    let bytes = match against {
        Some(_) if !want => return Ok(None),
        Some(path) => {
            let bytes = read_listing(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(bytes)
        }
        None => {
            let whose = live::apply::ip6_table(table).map_err(|e| e.to_string())?;
            match whose {
                Ip6Table::Absent => None,
                Ip6Table::Foreign(_) if !want => return Ok(None),
                _ => live::nft::list_json_bytes("ip6", table).map_err(|e| e.to_string())?,
            }
        }
    };
    let live = match bytes {
        Some(b) => diff::from_listing_bytes_in(&b, "ip6", table)?,
        None => None,
    };
    Ok(diff::plan6(table, want, live.as_ref()))
}

fn stats(a: StatsArgs) -> io::Result<Exit> {
    let table = a.table.table.as_str();
    let counted = match counted_rules(table, backend(a.backend)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            eprintln!("overlayfw: there is no table ip {table}");
            return Ok(Exit::Trouble);
        }
        Err(e) => {
            eprintln!("overlayfw: reading table ip {table}: {e}");
            return Ok(Exit::Trouble);
        }
    };
    let lines = if a.files.is_empty() {
        let recorded = std::fs::read_to_string(live::stats::record_path(table)).unwrap_or_default();
        live::stats::Lines::from_text(&recorded)
    } else {
        let common = CommonArgs {
            files: a.files.clone(),
            inventory: a.inventory,
            allow: Vec::new(),
            color: ColorArg::Auto,
        };
        let mut ruleset = match build(&common, table, FormatArg::Human)? {
            Ok(rs) => rs,
            Err(code) => return Ok(code),
        };
        if a.optimize {
            crate::optimize::optimize(&mut ruleset);
        }
        crate::layout::chunk::chunk(&mut ruleset);
        live::stats::Lines::of(&ruleset)
    };
    let mut stats = live::stats::by_line(&counted, &lines);
    if !a.files.is_empty() {
        let names: Vec<String> =
            a.files.iter().map(|p| crate::text::comment_name(&p.display().to_string())).collect();
        stats.retain(|s| names.contains(&s.file));
    }
    let out = match a.format {
        PlanFormatArg::Human => live::stats::render(&stats),
        PlanFormatArg::Json => {
            serde_json::to_string_pretty(&stats).map_err(io::Error::other)? + "\n"
        }
    };
    io::stdout().lock().write_all(out.as_bytes())?;
    Ok(Exit::Clean)
}

/// The live table's counted rules (`None`: no such table), through netlink or `nft -j`.
fn counted_rules(
    table: &str,
    backend: live::apply::Backend,
) -> Result<Option<Vec<live::stats::Counted>>, String> {
    #[cfg(feature = "netlink")]
    if backend == live::apply::Backend::Netlink {
        let live = live::netlink::read::read_counters(table).map_err(|e| e.to_string())?;
        if !live.exists() {
            return Ok(None);
        }
        let rules = live.chains.iter().flat_map(|c| {
            c.rules.iter().filter_map(move |r| {
                let (packets, bytes) = r.counter?;
                Some(live::stats::Counted {
                    chain: c.name.clone(),
                    comment: r.comment.clone()?,
                    packets,
                    bytes,
                })
            })
        });
        return Ok(Some(rules.collect()));
    }
    if let Some(why) = live::apply::netlink_missing(backend) {
        return Err(why.to_string());
    }
    let listing = live::nft::list_table_json(table).map_err(|e| e.to_string())?;
    Ok(listing.map(|l| live::stats::from_listing(&l)))
}

fn backend(b: BackendArg) -> live::apply::Backend {
    match b {
        BackendArg::Nft => live::apply::Backend::Nft,
        BackendArg::Netlink => live::apply::Backend::Netlink,
    }
}

/// What `apply` needs before it reads or locks anything: `nft` (it reads the live table with
/// it) and, for `--backend netlink`, a build with the feature. `Err`: the usage error to print.
fn apply_preflight(backend: live::apply::Backend) -> Result<(), String> {
    if let Some(why) = live::apply::netlink_missing(backend) {
        return Err(why.to_string());
    }
    live::nft::check_available().map(drop)
}

fn apply(a: ApplyArgs) -> io::Result<Exit> {
    let table = a.table.table.as_str();
    let backend = backend(a.backend);
    if let Err(msg) = apply_preflight(backend) {
        eprintln!("overlayfw: {msg}");
        return Ok(Exit::Trouble);
    }
    let mut ruleset = match build(&a.common, table, a.message_format)? {
        Ok(rs) => rs,
        Err(code) => return Ok(code),
    };
    if a.optimize {
        crate::optimize::optimize(&mut ruleset);
    }
    crate::layout::chunk::chunk(&mut ruleset);
    if !a.quiet {
        ipv6_note(ruleset.ipv6);
    }
    // UTC weekdays (W005) are exact only on a kernel whose timezone is UTC.
    match live::clock::kernel_minutes_west() {
        Ok(west) => {
            if let Some(why) = live::clock::utc_weekdays_refused(&ruleset, west) {
                eprintln!("overlayfw: {why}\nnothing was changed");
                return Ok(Exit::Problems);
            }
        }
        Err(e) if !ruleset.utc_weekdays().is_empty() => {
            eprintln!("overlayfw: reading the kernel's timezone: {e}\nnothing was changed");
            return Ok(Exit::Trouble);
        }
        Err(_) => {}
    }
    if a.dry_run {
        let live = match live_model(table, None) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("overlayfw: {e}");
                return Ok(Exit::Trouble);
            }
        };
        let plan = diff::plan(table, &diff::from_ruleset(&ruleset), live.as_ref());
        let plan = match ip6_plan(table, ruleset.ipv6, None) {
            Ok(p) => plan.with_ip6(p),
            Err(e) => {
                eprintln!("overlayfw: {e}");
                return Ok(Exit::Trouble);
            }
        };
        print_plan(&plan, a.format)?;
        // As `diff`: 1 when the apply would change something.
        return Ok(Exit::problems_if(!plan.is_same()));
    }
    let lock = live::confirm::lock(table, |why| eprintln!("overlayfw: {why}")).map_err(|e| {
        io::Error::new(e.kind(), format!("locking {}: {e}", live::confirm::state_dir().display()))
    })?;
    if let Some(stale) = live::confirm::clear_stale(table) {
        eprintln!("overlayfw: warning: {stale}");
    }
    live::confirm::sweep_decisions(table);
    // A plain netlink apply reads the table itself (through netlink, checking whose it is);
    // a replace or a confirmable apply keeps nft's listing of it to put it back.
    let incremental = backend == live::apply::Backend::Netlink && !a.replace;
    if incremental && a.confirm.is_none() {
        return Ok(match apply_now(&ruleset, backend, false, a.force) {
            Ok(applied) => {
                live::record::write(table, applied.generation, &ruleset.input_hash, a.optimize);
                if !a.quiet {
                    applied_message(&ruleset, &applied);
                }
                persist(table, &ruleset)
            }
            Err(refused) => refused.code,
        });
    }
    let snapshot = match live::apply::Snapshot::take(table, ruleset.ipv6) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("overlayfw: reading the live table: {e}\nnothing was changed");
            return Ok(Exit::Trouble);
        }
    };
    let foreign = snapshot.foreign();
    if let Some(why) = &foreign
        && !a.force
    {
        eprintln!("overlayfw: {why}; {FOREIGN_ADVICE}");
        return Ok(Exit::Trouble);
    }
    // A foreign table taken over with --force is replaced whole: its comment must become ours.
    let replace = a.replace || foreign.is_some();
    match a.confirm {
        None => match apply_now(&ruleset, backend, replace, true) {
            Ok(applied) => {
                live::record::write(table, applied.generation, &ruleset.input_hash, a.optimize);
                if !a.quiet {
                    applied_message(&ruleset, &applied);
                }
                Ok(persist(table, &ruleset))
            }
            Err(refused) => Ok(refused.code),
        },
        Some(seconds) => {
            apply_confirmed(&ruleset, (backend, replace, a.optimize), &lock, &snapshot, seconds)
        }
    }
}

/// Says so when the inventory does not say what to do with IPv6 and this machine has global
/// IPv6 addresses: the rules are IPv4, and its IPv6 passes them unfiltered.
fn ipv6_note(ipv6: crate::ip6::Ipv6) {
    if ipv6 != crate::ip6::Ipv6::Unset {
        return;
    }
    let found = live::apply::global_ipv6_addresses();
    if let Some((iface, addr)) = found.first() {
        let more =
            if found.len() > 1 { format!(" and {} more", found.len() - 1) } else { String::new() };
        eprintln!(
            "note: this machine has IPv6 addresses ({iface}: {addr}{more}), and overlayfw's rules are IPv4: its IPv6 traffic is not filtered by them. Set `ipv6: drop` in the inventory to drop IPv6 to and through it (all but what IPv6 needs to work), or `ipv6: unmanaged` if it is filtered elsewhere"
        );
    }
}

const FOREIGN_ADVICE: &str = "applying would replace it and everything in it. Use another --table, or --force to replace it anyway; nothing was changed";

fn applied_message(ruleset: &Ruleset, applied: &live::apply::Applied) {
    let rules: usize = ruleset.chains.iter().map(|c| c.rules.len()).sum();
    let (table, chains) = (&ruleset.table, ruleset.chains.len());
    let ip6 = if ruleset.ipv6.managed() { " and table ip6 (ipv6: drop)" } else { "" };
    eprintln!("applied table ip {table}{ip6}: {chains} chains, {rules} rules{}", applied.summary());
}

/// Keeps what was applied for the next boot (`live::persist`) and its lines for `stats`; the
/// exit code of the apply.
fn persist(table: &str, ruleset: &Ruleset) -> Exit {
    live::stats::record(ruleset);
    let Some(path) = live::persist::path(table) else { return Exit::Clean };
    match live::persist::write(&path, &emit::nft_script(ruleset)) {
        Ok(()) => Exit::Clean,
        Err(e) => {
            eprintln!(
                "overlayfw: applied, but keeping it for the next boot failed: {}: {e}",
                path.display()
            );
            Exit::Trouble
        }
    }
}

/// A failed apply: its exit code, and whether the kernel may have changed all the same.
struct Refused {
    code: Exit,
    uncertain: bool,
}

/// Applies; on failure says why (nothing changed, or, when nft was stopped at its time limit,
/// that the outcome is unknown).
fn apply_now(
    ruleset: &Ruleset,
    backend: live::apply::Backend,
    replace: bool,
    force: bool,
) -> Result<live::apply::Applied, Refused> {
    use live::apply::ApplyError;
    use live::nft::NftError;
    live::apply::apply(ruleset, backend, replace, force).map_err(|e| match e {
        ApplyError::Foreign(why) => {
            eprintln!("overlayfw: {why}; {FOREIGN_ADVICE}");
            Refused { code: Exit::Trouble, uncertain: false }
        }
        ApplyError::Nft {
            source: NftError::Timeout { .. } | NftError::Busy { .. } | NftError::Monitor(_),
            ..
        } => {
            eprintln!(
                "overlayfw: {e}\nthe table may be the old one or the new one: check with `overlayfw diff`"
            );
            Refused { code: Exit::Trouble, uncertain: true }
        }
        ApplyError::Nft { source: NftError::Failed { .. }, .. } | ApplyError::Netlink(_) => {
            eprintln!("overlayfw: the kernel refused the ruleset; nothing was changed\n{e}");
            Refused { code: Exit::Problems, uncertain: false }
        }
        ApplyError::Nft { .. } => {
            eprintln!("overlayfw: {e}\nnothing was changed");
            Refused { code: Exit::Trouble, uncertain: false }
        }
    })
}

/// `apply --confirm`: the way back is secured before the kernel changes. The restore script is
/// checked (`nft -c`) and written, and the watchdog started (holding the apply lock), first;
/// then the change is applied and the record that makes it confirmable written.
fn apply_confirmed(
    ruleset: &Ruleset,
    (backend, replace, optimize): (live::apply::Backend, bool, bool),
    lock: &live::confirm::ApplyLock,
    snapshot: &live::apply::Snapshot,
    seconds: u64,
) -> io::Result<Exit> {
    use live::confirm::{Decision, Pending};
    let table = ruleset.table.as_str();
    if let Err(e) = snapshot.check_restore() {
        eprintln!(
            "overlayfw: the live table ip {table} could not be put back as nft lists it, so --confirm cannot promise to restore it; nothing was changed\n{e}"
        );
        return Ok(Exit::Trouble);
    }
    let pending = Pending::new(table);
    if let Err(e) = pending.write_restore(&snapshot.restore_script()) {
        eprintln!("overlayfw: writing the restore script: {e}\nnothing was changed");
        return Ok(Exit::Trouble);
    }
    // What the watchdog keeps for the next boot once the change is confirmed.
    if live::persist::path(table).is_some()
        && let Err(e) = pending.write_applied(&emit::nft_script(ruleset))
    {
        pending.clear();
        eprintln!("overlayfw: writing the script to keep once confirmed: {e}\nnothing was changed");
        return Ok(Exit::Trouble);
    }
    // The watchdog lives in its own process group, so that losing the terminal (which kills
    // this process) cannot keep an unconfirmed change; its standard input is the apply lock,
    // which it holds until the change is confirmed or undone.
    let spawned = lock.share().and_then(|held| {
        use std::os::unix::process::CommandExt as _;
        std::process::Command::new(std::env::current_exe()?)
            .args(["watchdog", "--table", table, "--id", pending.id()])
            .args(["--seconds", &seconds.to_string()])
            .stdin(std::process::Stdio::from(held))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
    });
    let mut watchdog = match spawned {
        Ok(w) => w,
        Err(e) => {
            pending.clear();
            eprintln!(
                "overlayfw: cannot start the confirmation watchdog: {e}\nnothing was changed"
            );
            return Ok(Exit::Trouble);
        }
    };
    // Set when the change is being undone before it could be confirmed.
    let mut undone = false;
    match apply_now(ruleset, backend, replace, true) {
        Ok(applied) => {
            let (hash, generation) = (&ruleset.input_hash, applied.generation);
            live::record::write(table, generation, hash, optimize);
        }
        // nft was stopped at its time limit: the change may have happened; undo it.
        Err(Refused { uncertain: true, .. }) if pending.decide(Decision::Restore).is_ok() => {
            undone = true;
        }
        Err(Refused { code, uncertain }) => {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            // Uncertain and the watchdog cannot be told: undo it here.
            if uncertain && let Err(e) = snapshot.restore() {
                eprintln!("overlayfw: restoring the previous table failed: {e}");
            }
            pending.clear();
            return Ok(code);
        }
    }
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(seconds);
    if !undone {
        if let Err(e) = pending.publish(watchdog.id(), deadline) {
            eprintln!(
                "overlayfw: recording the pending change: {e}; restoring the previous table ip {table}"
            );
            undone = true;
            if pending.decide(Decision::Restore).is_err() {
                // Nothing can be written: undo it here, without the watchdog.
                let _ = watchdog.kill();
                let _ = watchdog.wait();
                let restored = snapshot.restore();
                pending.clear();
                if let Err(e) = restored {
                    eprintln!("overlayfw: restoring the previous table failed: {e}");
                } else {
                    eprintln!("the previous table ip {table} is restored");
                }
                return Ok(Exit::Trouble);
            }
        } else {
            eprintln!(
                "applied table ip {table}; confirm within {seconds} s (press Enter, or run `overlayfw confirm --table {table}`), or the previous table comes back"
            );
        }
    }
    // Enter confirms only on a terminal (a line arriving on a pipe is not an operator's "yes"),
    // and only in the foreground: a background job reading it would be stopped (SIGTTIN).
    let enter = in_foreground_of_terminal().then(|| {
        // What was typed before the question is not an answer to it.
        let _ = rustix::termios::tcflush(io::stdin(), rustix::termios::QueueSelector::IFlush);
        let (tx, rx) = std::sync::mpsc::channel();
        // The thread stays blocked on stdin if nothing comes; the process exits anyway.
        std::thread::spawn(move || {
            let mut line = String::new();
            if io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                let _ = tx.send(());
            }
        });
        rx
    });
    let status = loop {
        if let Some(status) = watchdog.try_wait()? {
            break status.code().unwrap_or(2);
        }
        if enter.as_ref().is_some_and(|rx| rx.try_recv().is_ok()) {
            let _ = pending.decide(Decision::Confirmed);
        }
        std::thread::sleep(live::confirm::POLL);
    };
    Ok(match status {
        1 if undone => {
            eprintln!("the previous table ip {table} is restored");
            Exit::Trouble
        }
        0 => {
            live::stats::record(ruleset);
            eprintln!("confirmed");
            Exit::Clean
        }
        3 => {
            eprintln!(
                "confirmed, but keeping it for the next boot failed ({} is unchanged)",
                live::persist::path(table).map_or_else(String::new, |p| p.display().to_string())
            );
            Exit::Trouble
        }
        1 => {
            eprintln!(
                "not confirmed within {seconds} s: the previous table ip {table} is restored"
            );
            Exit::Problems
        }
        _ => {
            eprintln!(
                "overlayfw: not confirmed, and restoring the previous table failed; its script is {}",
                pending.restore_path().display()
            );
            Exit::Trouble
        }
    })
}

/// Whether standard input is a terminal whose foreground process group is ours.
fn in_foreground_of_terminal() -> bool {
    io::stdin().is_terminal()
        && rustix::termios::tcgetpgrp(io::stdin()).is_ok_and(|g| g == rustix::process::getpgrp())
}

/// The watchdog of one pending change. It holds the apply lock (its standard input) until the
/// change is decided. The deadline runs from when the change is recorded as applied, or from
/// when the applying process (its parent) is gone, whichever comes first.
/// Exit 0: confirmed (and kept for the next boot); 1: not confirmed, previous table restored;
/// 2: restoring failed (the restore script and the record are left for the operator); 3:
/// confirmed, but keeping it for the next boot failed.
fn watchdog(a: WatchdogArgs) -> io::Result<u8> {
    use live::confirm::Decision;
    let Some(pending) = live::confirm::Pending::open(&a.table.table, &a.id) else {
        return Ok(2);
    };
    let parent = std::os::unix::process::parent_id();
    let mut deadline = None;
    let decision = loop {
        if let Some(d) = pending.decision() {
            break d;
        }
        let now = std::time::Instant::now();
        if deadline.is_none()
            && (pending.is_published() || std::os::unix::process::parent_id() != parent)
        {
            deadline = Some(now + std::time::Duration::from_secs(a.seconds));
        }
        if deadline.is_some_and(|d| now >= d) {
            // A confirmation that came just before wins.
            break pending.decide(Decision::Restore).unwrap_or(Decision::Restore);
        }
        std::thread::sleep(live::confirm::POLL);
    };
    if decision == Decision::Confirmed {
        // Kept for the next boot only now: an unconfirmed change never replaces that file.
        let kept = live::persist::path(&a.table.table).map(|path| {
            std::fs::read_to_string(pending.applied_path())
                .and_then(|s| live::persist::write(&path, &s))
        });
        pending.clear();
        return Ok(if matches!(kept, Some(Err(_))) { 3 } else { 0 });
    }
    match pending.restore_script().map(|s| live::nft::load(&s)) {
        Ok(Ok(())) => {
            pending.clear();
            Ok(1)
        }
        _ => Ok(2),
    }
}

fn confirm(a: ConfirmArgs) -> io::Result<Exit> {
    use live::confirm::Confirmed;
    let table = &a.table.table;
    if let Err(msg) = resolve::check_table_name(table) {
        eprintln!("overlayfw: {msg}");
        return Ok(Exit::Trouble);
    }
    match live::confirm::confirm(table)? {
        Confirmed::Yes => {
            eprintln!("confirmed table ip {table}");
            Ok(Exit::Clean)
        }
        Confirmed::NothingPending => {
            eprintln!("overlayfw: no apply of table ip {table} is waiting for confirmation here");
            Ok(Exit::Trouble)
        }
        Confirmed::TooLate => {
            eprintln!(
                "overlayfw: too late: the deadline passed and the previous table ip {table} is being restored"
            );
            Ok(Exit::Problems)
        }
    }
}
