//! `bootstrap man`: man pages generated from the clap definitions (clap_mangen), so they list
//! exactly the flags, values and exit codes `--help` shows.

use std::path::Path;

/// Prints bootstrap(1) on stdout; exit code.
pub fn print() -> i32 {
    let mut page = Vec::new();
    match clap_mangen::Man::new(crate::cli::command()).render(&mut page) {
        Ok(()) => super::write_stdout(&page),
        Err(e) => {
            eprintln!("error: cannot render the man page: {e}");
            1
        }
    }
}

/// Writes bootstrap.1 and one page per subcommand (bootstrap-plan.1, ...) into `dir`.
pub fn write_all(dir: &Path) -> i32 {
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| clap_mangen::generate_to(crate::cli::command(), dir));
    match written {
        Ok(()) => {
            println!("man pages written to {}", dir.display());
            0
        }
        Err(e) => {
            eprintln!("error: cannot write man pages to {}: {e}", dir.display());
            1
        }
    }
}
