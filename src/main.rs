//! The `parana` command-line program: a thin wrapper over [`parana::cli`].

fn main() {
    std::process::exit(parana::cli::main());
}
