//! The `parana` command-line program: a thin wrapper over [`parana::cli`].

fn main() {
    // Die quietly on a closed pipe (`parana inspect … | head`), as Unix
    // tools do, instead of panicking inside `println!`.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists;
    // restoring the default disposition of SIGPIPE has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(parana::cli::main());
}
