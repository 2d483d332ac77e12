//! Command-line interface: arguments → a pipeline call → output and an exit code.
//! Exit codes: 0 clean (warnings allowed), 1 problems in the input, 2 usage, IO or internal.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod tools;

use crate::diagnostic::{self, Sources};
use crate::ir::Ruleset;
use crate::pipeline::{self, Rules, Text};
use crate::{diff, emit, live, resolve};

#[derive(Parser, Debug)]
#[command(
    name = "overlayfw",
    version,
    about = "Compile VNS3 overlay firewall rules into an nftables ruleset"
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
    Check(CheckArgs),
    /// Compare what the rules compile to with the live table (or a saved `nft -j` dump).
    Diff(DiffArgs),
    /// Replace overlayfw's table in the kernel in one transaction.
    Apply(ApplyArgs),
    /// Confirm a pending `apply --confirm` in this network namespace.
    Confirm(ConfirmArgs),
    /// Rewrite rules files in the canonical layout (or, with --check, list those that differ).
    Fmt(tools::FmtArgs),
    /// Explain a diagnostic code (what it finds, why it matters, an example, the fix).
    Explain(tools::ExplainArgs),
    /// Print a shell completion script.
    Completions(tools::CompletionsArgs),
    /// Print the manual page (roff) on standard output.
    Man,
    /// Internal: started by `apply --confirm`; restores the previous table at the deadline
    /// unless confirmed.
    #[command(hide = true)]
    Watchdog(WatchdogArgs),
}

#[derive(Args, Debug)]
struct WatchdogArgs {
    #[command(flatten)]
    table: TableArg,
    #[arg(long)]
    seconds: u64,
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// Rules files (`-` reads standard input).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Topology inventory (YAML). Without it, a stock VNS3 manager is assumed.
    #[arg(long, value_name = "FILE")]
    inventory: Option<PathBuf>,
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
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    format: FormatArg,
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
    /// How to talk to the kernel.
    #[arg(long, value_enum, default_value_t = BackendArg::Nft)]
    backend: BackendArg,
    /// Apply what `compile --optimize` makes of the files.
    #[arg(long)]
    optimize: bool,

    /// Print the plan (as `diff` does) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Restore the previous table unless confirmed within SECONDS (Enter, or `overlayfw confirm`).
    #[arg(long, value_name = "SECONDS")]
    confirm: Option<u64>,
    /// How to print the plan of --dry-run.
    #[arg(long, value_enum, default_value_t = PlanFormatArg::Human)]
    format: PlanFormatArg,
    /// How to print diagnostics (on standard error).
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    message_format: FormatArg,
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

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// rustc-style, with the source line and a caret.
    Human,
    /// `FILE:LINE:COL: error[CODE]: message`, one per line.
    Short,
    /// A JSON array of objects.
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…::message`).
    Github,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

/// Parses arguments and runs; the exit code for `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap: help and version are not errors.
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(0),
        Err(e) => {
            eprintln!("overlayfw: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> io::Result<u8> {
    match cli.command {
        Command::Compile(a) => compile(a),
        Command::Check(a) => check(a),
        Command::Diff(a) => diff(a),
        Command::Apply(a) => apply(a),
        Command::Confirm(a) => confirm(a),
        Command::Fmt(a) => tools::fmt(a),
        Command::Explain(a) => tools::explain(a),
        Command::Completions(a) => tools::completions(a),
        Command::Man => tools::man(),
        Command::Watchdog(a) => watchdog(a),
    }
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
        return Err(too_large(&path.display().to_string()));
    }
    let text = Text { name: path.display().to_string(), bytes };
    Ok(Rules { text, file: meta.is_file().then_some(file) })
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn read_inputs(common: &CommonArgs) -> io::Result<(Vec<Rules>, Option<Text>)> {
    if common.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "`-` (standard input) may be given once",
        ));
    }
    let files = common.files.iter().map(|p| read_input(p)).collect::<io::Result<Vec<_>>>()?;
    let inventory = common.inventory.as_deref().map(read_input).transpose()?.map(|r| r.text);
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

fn check(a: CheckArgs) -> io::Result<u8> {
    let (files, inventory) = read_inputs(&a.common)?;
    let mut sources = Sources::new();
    let compiled = pipeline::compile_files(&mut sources, files, inventory, "overlayfw")?;
    let mut out = io::stdout().lock();
    let color = use_color(a.common.color, io::stdout().is_terminal());
    let fmt = format(a.format);
    // JSON and SARIF consumers expect a document even when there is nothing to report.
    let always = matches!(fmt, diagnostic::Format::Json | diagnostic::Format::Sarif);
    if !compiled.diagnostics.is_empty() || always {
        out.write_all(diagnostic::render(&compiled.diagnostics, &sources, fmt, color).as_bytes())?;
    }
    out.flush()?;
    let warned = compiled.diagnostics.iter().any(|d| !d.is_error());
    let code = u8::from(compiled.has_errors() || (a.deny_warnings && warned));
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
fn build(common: &CommonArgs, table: &str, fmt: FormatArg) -> io::Result<Result<Ruleset, u8>> {
    if let Err(msg) = resolve::check_table_name(table) {
        eprintln!("overlayfw: {msg}");
        return Ok(Err(2));
    }
    let (files, inventory) = read_inputs(common)?;
    let mut sources = Sources::new();
    let compiled = pipeline::compile_files(&mut sources, files, inventory, table)?;
    let color = use_color(common.color, io::stderr().is_terminal());
    if !compiled.diagnostics.is_empty() {
        let text = diagnostic::render(&compiled.diagnostics, &sources, format(fmt), color);
        io::stderr().lock().write_all(text.as_bytes())?;
    }
    Ok(compiled.ruleset.ok_or(1))
}

fn compile(a: CompileArgs) -> io::Result<u8> {
    let mut ruleset = match build(&a.common, &a.table.table, a.message_format)? {
        Ok(rs) => rs,
        Err(code) => return Ok(code),
    };
    if a.optimize {
        let merges = crate::optimize::optimize(&mut ruleset);
        if a.explain_merges {
            let mut err = io::stderr().lock();
            for m in &merges {
                let lines: Vec<String> =
                    m.origins.iter().map(|o| format!("{}:{}", o.file, o.line)).collect();
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
    Ok(0)
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

fn diff(a: DiffArgs) -> io::Result<u8> {
    if a.against.is_none() {
        // `nft -j list` takes many times longer than the compile and runs beside it: a compile
        // on one core finishes well before it, and leaves nft a core of its own.
        crate::parallel::limit_threads(Some(1));
    }
    let live = live_model_in_background(&a.table.table, a.against.as_deref());
    let mut ruleset = match build(&a.common, &a.table.table, a.message_format)? {
        Ok(rs) => rs,
        // `diff` keeps 1 for "different": input errors are errors here.
        Err(_) => return Ok(2),
    };
    if a.optimize {
        crate::optimize::optimize(&mut ruleset);
    }
    // Our side's model is ready before the listing is, which is then read on every core.
    let ours = diff::from_ruleset(&ruleset);
    drop(ruleset);
    crate::parallel::limit_threads(None);
    let live = match live.join().expect("live reader thread") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("overlayfw: {e}");
            return Ok(2);
        }
    };
    let plan = diff::plan(&a.table.table, &ours, live.as_ref());
    print_plan(&plan, a.format)?;
    Ok(u8::from(!plan.is_same()))
}

fn apply(a: ApplyArgs) -> io::Result<u8> {
    let table = a.table.table.as_str();
    let mut ruleset = match build(&a.common, table, a.message_format)? {
        Ok(rs) => rs,
        Err(code) => return Ok(code),
    };
    if a.optimize {
        crate::optimize::optimize(&mut ruleset);
    }
    if a.dry_run {
        let live = match live_model(table, None) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("overlayfw: {e}");
                return Ok(2);
            }
        };
        print_plan(&diff::plan(table, &diff::from_ruleset(&ruleset), live.as_ref()), a.format)?;
        return Ok(0);
    }
    let _lock = live::confirm::lock(table).map_err(|e| {
        io::Error::new(e.kind(), format!("locking {}: {e}", live::confirm::state_dir().display()))
    })?;
    let snapshot = match a.confirm.map(|_| live::apply::Snapshot::take(table)).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("overlayfw: reading the live table: {e}");
            return Ok(2);
        }
    };
    let backend = match a.backend {
        BackendArg::Nft => live::apply::Backend::Nft,
        BackendArg::Netlink => live::apply::Backend::Netlink,
    };
    let kernel = match live::apply::apply(&ruleset, backend) {
        Ok(kernel) => kernel,
        Err(e) => {
            eprintln!("overlayfw: the kernel refused the ruleset; nothing was changed\n{e}");
            return Ok(match e {
                live::apply::ApplyError::Nft {
                    source: live::nft::NftError::Failed { .. }, ..
                } => 1,
                live::apply::ApplyError::Netlink(_) => 1,
                _ => 2,
            });
        }
    };
    let rules: usize = ruleset.chains.iter().map(|c| c.rules.len()).sum();
    let Some((seconds, snapshot)) = a.confirm.zip(snapshot) else {
        let took = kernel.map_or(String::new(), |t| {
            format!(" (the kernel's transaction took {:.3} s)", t.as_secs_f64())
        });
        eprintln!("applied table ip {table}: {} chains, {rules} rules{took}", ruleset.chains.len());
        return Ok(0);
    };
    let pending = live::confirm::Pending::create(table, &snapshot.restore_script())?;
    // The watchdog decides; it lives in its own process group, so that losing the terminal
    // (which kills this process) cannot keep an unconfirmed change.
    let spawned = {
        use std::os::unix::process::CommandExt as _;
        std::process::Command::new(std::env::current_exe()?)
            .args(["watchdog", "--table", table, "--seconds", &seconds.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
    };
    let mut watchdog = match spawned {
        Ok(w) => w,
        Err(e) => {
            eprintln!(
                "overlayfw: cannot start the confirmation watchdog ({e}); restoring the previous table"
            );
            pending.clear();
            return Ok(if snapshot.restore().is_ok() { 1 } else { 2 });
        }
    };
    eprintln!(
        "applied table ip {table}; confirm within {seconds} s (press Enter, or run `overlayfw confirm --table {table}`), or the previous table comes back"
    );
    // Enter confirms only on a terminal: a line arriving on a pipe is not an operator's "yes".
    pending.wait(std::time::Duration::from_secs(seconds), io::stdin().is_terminal());
    let status = watchdog_status(&mut watchdog)?;
    match status {
        0 => {
            eprintln!("confirmed");
            Ok(0)
        }
        1 => {
            eprintln!(
                "not confirmed within {seconds} s: the previous table ip {table} is restored"
            );
            Ok(1)
        }
        _ => {
            eprintln!("overlayfw: not confirmed, and restoring the previous table failed");
            Ok(2)
        }
    }
}

fn watchdog_status(child: &mut std::process::Child) -> io::Result<i32> {
    Ok(child.wait()?.code().unwrap_or(2))
}

/// Exit 0: confirmed; 1: not confirmed, previous table restored; 2: restoring failed.
fn watchdog(a: WatchdogArgs) -> io::Result<u8> {
    let pending = live::confirm::Pending::of(&a.table.table);
    let confirmed = pending.wait(std::time::Duration::from_secs(a.seconds), false);
    let code = if confirmed {
        0
    } else {
        match pending.restore_script().map(|s| live::nft::load(&s)) {
            Ok(Ok(())) => 1,
            _ => 2,
        }
    };
    pending.clear();
    Ok(code)
}

fn confirm(a: ConfirmArgs) -> io::Result<u8> {
    if live::confirm::confirm(&a.table.table)? {
        eprintln!("confirmed table ip {}", a.table.table);
        Ok(0)
    } else {
        eprintln!(
            "overlayfw: no apply of table ip {} is waiting for confirmation here",
            a.table.table
        );
        Ok(2)
    }
}

/// Writes what `write` writes to a temporary file beside `path`, then renames it over `path`:
/// readers see the old file or the new one, never a part. The new file gets `permissions` if
/// given (e.g. the old file's).
fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    permissions: Option<std::fs::Permissions>,
) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        if let Some(p) = permissions {
            f.set_permissions(p)?;
        }
        write(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
