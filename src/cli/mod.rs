//! Command-line interface: arguments → a pipeline call → output and an exit code.
//! Exit codes: 0 clean (warnings allowed), 1 problems in the input, 2 usage, IO or internal.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diagnostic::{self, Sources};
use crate::pipeline::{self, Text};
use crate::{emit, resolve};

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
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// Rules files (`-` reads standard input).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Topology inventory (YAML). Without it, a stock VNS3 manager is assumed.
    #[arg(long, value_name = "FILE")]
    inventory: Option<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    format: FormatArg,
    /// When to colour human diagnostics.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Args, Debug)]
struct CompileArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Name of the nft table (`table ip NAME`).
    #[arg(long, default_value = "overlayfw", value_name = "NAME")]
    table: String,
    /// Write the script here (atomically) instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Human,
    Short,
    Json,
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
    }
}

/// Reads one input; `-` is standard input.
fn read_input(path: &Path) -> io::Result<Text> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        io::stdin().lock().read_to_end(&mut bytes)?;
        return Ok(Text { name: "<stdin>".to_string(), bytes });
    }
    let bytes = std::fs::read(path).map_err(|e| with_path(e, path))?;
    Ok(Text { name: path.display().to_string(), bytes })
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn read_inputs(common: &CommonArgs) -> io::Result<(Vec<Text>, Option<Text>)> {
    if common.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "`-` (standard input) may be given once",
        ));
    }
    let files = common.files.iter().map(|p| read_input(p)).collect::<io::Result<Vec<_>>>()?;
    let inventory = common.inventory.as_deref().map(read_input).transpose()?;
    Ok((files, inventory))
}

fn format(f: FormatArg) -> diagnostic::Format {
    match f {
        FormatArg::Human => diagnostic::Format::Human,
        FormatArg::Short => diagnostic::Format::Short,
        FormatArg::Json => diagnostic::Format::Json,
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
    let compiled = pipeline::compile(&mut sources, files, inventory, "overlayfw");
    let mut out = io::stdout().lock();
    let color = use_color(a.common.color, io::stdout().is_terminal());
    let fmt = format(a.common.format);
    if !compiled.diagnostics.is_empty() || matches!(fmt, diagnostic::Format::Json) {
        out.write_all(diagnostic::render(&compiled.diagnostics, &sources, fmt, color).as_bytes())?;
    }
    out.flush()?;
    Ok(u8::from(compiled.has_errors()))
}

fn compile(a: CompileArgs) -> io::Result<u8> {
    if let Err(msg) = resolve::check_table_name(&a.table) {
        eprintln!("overlayfw: {msg}");
        return Ok(2);
    }
    let (files, inventory) = read_inputs(&a.common)?;
    let mut sources = Sources::new();
    let compiled = pipeline::compile(&mut sources, files, inventory, &a.table);
    let color = use_color(a.common.color, io::stderr().is_terminal());
    if !compiled.diagnostics.is_empty() {
        let text =
            diagnostic::render(&compiled.diagnostics, &sources, format(a.common.format), color);
        io::stderr().lock().write_all(text.as_bytes())?;
    }
    let Some(ruleset) = compiled.ruleset else { return Ok(1) };
    let script = emit::nft_script(&ruleset);
    match &a.output {
        None => {
            let mut out = io::stdout().lock();
            out.write_all(script.as_bytes())?;
            out.flush()?;
        }
        Some(path) => write_atomically(path, script.as_bytes()).map_err(|e| with_path(e, path))?,
    }
    Ok(0)
}

/// Writes to a temporary file beside `path`, then renames it over `path`: readers see the old
/// file or the new one, never a part.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
