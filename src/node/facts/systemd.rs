//! Whether systemd is the init system: the test of `sd_booted(3)`, which checks that
//! `/run/systemd/system/` exists (systemd creates it early at boot; see
//! <https://www.freedesktop.org/software/systemd/man/latest/sd_booted.html>). Under a
//! `--root` other than `/` the root's own directory is judged.

use crate::host::Host;

/// systemd's runtime directory, present only when systemd booted the system.
pub const RUNTIME_DIR: &str = "/run/systemd/system";

/// Whether systemd is the init system of the node.
pub fn is_init(host: &Host) -> bool {
    host.is_dir(RUNTIME_DIR)
}

#[cfg(test)]
mod tests {
    use super::super::testing::root_with;
    use super::*;

    #[test]
    fn the_runtime_directory_decides() {
        let (_d, booted) = root_with(&[("/run/systemd/system/.keep", "")]);
        assert!(is_init(&booted));
        let (_d, file_only) = root_with(&[("/run/systemd/system", "")]);
        assert!(!is_init(&file_only), "a file is not the directory");
        let (_d, none) = root_with(&[]);
        assert!(!is_init(&none));
    }
}
