//! The `ghlsync` command.

fn main() -> std::process::ExitCode {
    ghlsync::cli::main()
}
