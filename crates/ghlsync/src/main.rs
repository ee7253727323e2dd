//! The `ghlsync` command.

// glibc's allocator spent a tenth of ingest's CPU consolidating and freeing per-request and
// per-batch buffers across threads; mimalloc's thread-local heaps do not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ghlsync::cli::main()
}
