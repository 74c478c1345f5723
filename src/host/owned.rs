//! Files written for a regular user, in a directory that user controls (`~USER/.kube/config`).
//! The user can rename, link and replace anything there while root writes, so nothing is
//! looked up by path twice: every component from the root is opened with `O_NOFOLLOW` on the
//! descriptor of the one before, a symlink or hard link anywhere is refused (naming what was
//! found), and owner and mode are set on descriptors (`fchown`, `fchmod`), never by path.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat, readlinkat};
use nix::sys::stat::{Mode as NixMode, SFlag, fchmod, fstat, mkdirat};
use nix::unistd::{Gid, Uid, fchown};

use super::atomic::{self, NewFile};
use super::backup::Original;
use super::journal::Record;
use super::{Host, HostError, resolve};

/// The mode of the user's directory when bootstrap creates it (kubectl's `~/.kube`).
const USER_DIR_MODE: u32 = 0o700;

/// The owner a user's file and directory get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

fn open_dir_at(dir: &OwnedFd, name: &str) -> Result<OwnedFd, Errno> {
    openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        NixMode::empty(),
    )
}

fn kind(mode: u32) -> &'static str {
    match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFLNK => "a symlink",
        SFlag::S_IFIFO => "a fifo",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR | SFlag::S_IFBLK => "a device",
        _ => "a regular file",
    }
}

impl Host {
    /// Writes `contents` to `node_path` for `owner` with exactly `mode`, atomically, refusing
    /// symlinks at every component and hard links at the file. The file's directory is
    /// created (0700) when missing; it and the file are given to `owner` through their
    /// descriptors. Backed up once and journaled like [`Host::write_file`].
    pub fn write_user_file(
        &self,
        step: &str,
        node_path: &str,
        contents: &[u8],
        owner: Owner,
        mode: u32,
    ) -> Result<(), HostError> {
        let lexical = resolve::lexical(node_path);
        let shown = self.root.join(lexical.trim_start_matches('/'));
        let (dir, name) = self.open_user_dir(step, &lexical)?;
        self.give_dir(step, &dir, &lexical, owner)?;
        let name = OsStr::new(name);
        let old = self.existing_user_file(&dir, name, &shown)?;
        if let Some((bytes, st)) = &old
            && bytes == contents
            && (st.st_mode & 0o7777) == mode
            && (st.st_uid, st.st_gid) == (owner.uid, owner.gid)
        {
            return Ok(());
        }
        let backup = match &old {
            Some((bytes, st)) => {
                Some(self.backup(&lexical, Original::File(bytes, st.st_mode & 0o7777))?)
            }
            None => None,
        };
        let new = NewFile {
            contents,
            mode,
            owner: Some((owner.uid, owner.gid)),
        };
        let detail = format!("owner {}:{}", owner.uid, owner.gid);
        let sha256 = super::journal::digest(contents);
        let was = old
            .as_ref()
            .map(|(_, st)| format!("{}:{}", st.st_uid, st.st_gid));
        self.replace_journaled(&lexical, &dir, name, &new, &shown, || Record {
            time: self.now(),
            step,
            action: "write",
            target: &lexical,
            backup: backup.as_deref(),
            existed: Some(old.is_some()),
            detail: Some(&detail),
            sha256: Some(&sha256),
            owner: was.as_deref(),
        })?;
        tracing::info!(step, path = node_path, "wrote a user's file");
        Ok(())
    }

    /// Opens the directory of `lexical` component by component from the root without
    /// following any symlink; creates the last directory (0700) when it is missing, and
    /// journals that (`mkdir`), so `reset` can remove it again.
    fn open_user_dir<'p>(
        &self,
        step: &str,
        lexical: &'p str,
    ) -> Result<(OwnedFd, &'p str), HostError> {
        let parts: Vec<&str> = lexical.split('/').filter(|p| !p.is_empty()).collect();
        let Some((name, dirs)) = parts.split_last() else {
            return Err(self.unsafe_path(lexical, "is not a file path".into()));
        };
        let root = &self.root;
        let mut fd = super::paths::open_dir(root).or_else(|_| {
            openat(
                nix::fcntl::AT_FDCWD,
                root,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                NixMode::empty(),
            )
            .map_err(|e| super::paths::io_err("cannot open", root)(e.into()))
        })?;
        let mut here = String::new();
        for (i, part) in dirs.iter().enumerate() {
            here.push('/');
            here.push_str(part);
            let next = match open_dir_at(&fd, part) {
                Err(Errno::ENOENT) if i + 1 == dirs.len() => mkdirat(
                    fd.as_fd(),
                    *part,
                    NixMode::from_bits_truncate(USER_DIR_MODE),
                )
                .inspect(|()| self.journal_mkdir(step, &here))
                .and_then(|()| open_dir_at(&fd, part))
                .and_then(|d| {
                    fchmod(d.as_fd(), NixMode::from_bits_truncate(USER_DIR_MODE)).map(|()| d)
                }),
                other => other,
            };
            fd = next.map_err(|e| self.what_is_there(&fd, part, &here, e))?;
        }
        Ok((fd, name))
    }

    /// Gives the user's directory to `owner` through its descriptor, journaled.
    fn give_dir(
        &self,
        step: &str,
        dir: &OwnedFd,
        lexical: &str,
        owner: Owner,
    ) -> Result<(), HostError> {
        let st = fstat(dir.as_fd()).map_err(|e| self.io(lexical, "cannot inspect", e))?;
        if (st.st_uid, st.st_gid) == (owner.uid, owner.gid) {
            return Ok(());
        }
        let dir_node = lexical.rsplit_once('/').map_or("/", |(d, _)| d).to_string();
        fchown(
            dir.as_fd(),
            Some(Uid::from_raw(owner.uid)),
            Some(Gid::from_raw(owner.gid)),
        )
        .map_err(|e| self.io(&dir_node, "cannot set the owner of", e))?;
        let detail = format!("{}:{}", owner.uid, owner.gid);
        self.journal_after(Record {
            time: self.now(),
            step,
            action: "chown",
            target: &dir_node,
            existed: Some(true),
            detail: Some(&detail),
            ..Record::default()
        });
        Ok(())
    }

    /// The current content and metadata of `name` in the user's directory, refusing a
    /// symlink, anything but a regular file, and a file with other hard links.
    fn existing_user_file(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        shown: &std::path::Path,
    ) -> Result<Option<(Vec<u8>, nix::sys::stat::FileStat)>, HostError> {
        let node = shown.display().to_string();
        let st = match atomic::lstat_in(dir, name) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(self.io(&node, "cannot inspect", e)),
        };
        let what = kind(st.st_mode);
        if what == "a symlink" {
            let target = readlinkat(dir.as_fd(), name).unwrap_or_default();
            return Err(self.unsafe_path(
                &node,
                format!("is a symlink to {}", target.to_string_lossy()),
            ));
        }
        if what != "a regular file" {
            return Err(self.unsafe_path(&node, format!("is {what}, not a regular file")));
        }
        if st.st_nlink > 1 {
            return Err(self.unsafe_path(
                &node,
                format!(
                    "has {} hard links (another name for the same file exists)",
                    st.st_nlink
                ),
            ));
        }
        let bytes = atomic::read_in(dir, name).map_err(|e| self.io(&node, "cannot read", e))?;
        Ok(Some((bytes, st)))
    }

    /// The error for a component that could not be opened as a directory: what is there.
    fn what_is_there(&self, dir: &OwnedFd, name: &str, here: &str, e: Errno) -> HostError {
        let shown = self
            .root
            .join(here.trim_start_matches('/'))
            .display()
            .to_string();
        match atomic::lstat_in(dir, OsStr::new(name)) {
            Ok(st) if kind(st.st_mode) == "a symlink" => {
                let target = readlinkat(dir.as_fd(), name).unwrap_or_default();
                self.unsafe_path(
                    &shown,
                    format!(
                        "is a symlink to {} (owned by uid {})",
                        target.to_string_lossy(),
                        st.st_uid
                    ),
                )
            }
            Ok(st) if kind(st.st_mode) != "a directory" => {
                self.unsafe_path(&shown, format!("is {}, not a directory", kind(st.st_mode)))
            }
            _ => self.io(&shown, "cannot open directory", e),
        }
    }

    fn unsafe_path(&self, path: &str, found: String) -> HostError {
        HostError::Unsafe {
            path: path.to_string(),
            found,
        }
    }

    fn io(&self, path: &str, op: &'static str, e: Errno) -> HostError {
        HostError::Io {
            op,
            path: PathBuf::from(path).display().to_string(),
            source: e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, symlink};

    /// A root with /home/u, the user being whoever runs the test (so fchown works unprivileged).
    fn sandbox() -> (tempfile::TempDir, Host, Owner) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("home/u")).unwrap();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/shadow"), "root:secret\n").unwrap();
        let me = Owner {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        };
        (dir, Host::new(root), me)
    }

    fn write(host: &Host, owner: Owner) -> Result<(), HostError> {
        host.write_user_file("kubeadm", "/home/u/.kube/config", b"admin\n", owner, 0o600)
    }

    #[test]
    fn creates_the_directory_0700_and_the_file_0600_for_the_user() {
        let (_dir, host, me) = sandbox();
        write(&host, me).unwrap();
        let kube = fs::metadata(host.path("/home/u/.kube")).unwrap();
        assert_eq!(kube.mode() & 0o777, 0o700);
        let file = fs::metadata(host.path("/home/u/.kube/config")).unwrap();
        assert_eq!((file.mode() & 0o777, file.uid()), (0o600, me.uid));
        write(&host, me).unwrap();
        let journal = fs::read_to_string(host.path("/var/lib/bootstrap/journal.jsonl")).unwrap();
        assert_eq!(
            journal.lines().count(),
            2,
            "the created directory and the file; a second write changes nothing:\n{journal}"
        );
        assert!(journal.contains("\"action\":\"mkdir\",\"target\":\"/home/u/.kube\""));
    }

    #[test]
    fn a_planted_file_link_is_refused_and_its_target_untouched() {
        for target in ["/etc/shadow", "../../../etc/shadow", "/nonexistent"] {
            let (dir, host, me) = sandbox();
            fs::create_dir_all(host.path("/home/u/.kube")).unwrap();
            symlink(target, host.root().join("home/u/.kube/config")).unwrap();
            // Also a link to the real path of the sandbox's file (what an absolute link on
            // the real node would be).
            let err = write(&host, me).unwrap_err().to_string();
            assert!(err.contains(&format!("is a symlink to {target}")), "{err}");
            assert_eq!(
                fs::read_to_string(dir.path().join("root/etc/shadow")).unwrap(),
                "root:secret\n"
            );
        }
    }

    #[test]
    fn a_linked_directory_anywhere_on_the_way_is_refused() {
        for (link, to) in [
            ("home/u/.kube", "../../etc"),
            ("home/u/.kube", "/etc"),
            ("home/v", "u"),
        ] {
            let (dir, host, me) = sandbox();
            let path = if link == "home/v" {
                "/home/v/.kube/config"
            } else {
                "/home/u/.kube/config"
            };
            symlink(to, host.root().join(link)).unwrap();
            let before = fs::metadata(dir.path().join("root/etc")).unwrap();
            let err = host
                .write_user_file("kubeadm", path, b"admin\n", me, 0o600)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("is a symlink to {to}")), "{err}");
            let after = fs::metadata(dir.path().join("root/etc")).unwrap();
            assert_eq!((before.uid(), before.mode()), (after.uid(), after.mode()));
            assert!(!dir.path().join("root/etc/config").exists());
        }
    }

    #[test]
    fn hard_links_and_special_files_are_refused() {
        let (dir, host, me) = sandbox();
        fs::create_dir_all(host.path("/home/u/.kube")).unwrap();
        fs::hard_link(
            dir.path().join("root/etc/shadow"),
            host.path("/home/u/.kube/config"),
        )
        .unwrap();
        let err = write(&host, me).unwrap_err().to_string();
        assert!(err.contains("has 2 hard links"), "{err}");
        fs::remove_file(host.path("/home/u/.kube/config")).unwrap();
        nix::unistd::mkfifo(
            &host.path("/home/u/.kube/config"),
            NixMode::from_bits_truncate(0o600),
        )
        .unwrap();
        let err = write(&host, me).unwrap_err().to_string();
        assert!(err.contains("is a fifo"), "{err}");
        fs::remove_dir_all(host.path("/home/u/.kube")).unwrap();
        fs::write(host.path("/home/u/.kube"), "").unwrap();
        let err = write(&host, me).unwrap_err().to_string();
        assert!(err.contains("is a regular file, not a directory"), "{err}");
    }

    #[test]
    fn replaces_the_users_old_file_after_backing_it_up() {
        let (_dir, host, me) = sandbox();
        fs::create_dir_all(host.path("/home/u/.kube")).unwrap();
        fs::write(host.path("/home/u/.kube/config"), "old\n").unwrap();
        write(&host, me).unwrap();
        assert_eq!(
            fs::read_to_string(host.path("/home/u/.kube/config")).unwrap(),
            "admin\n"
        );
        let backup = host.path("/var/lib/bootstrap/backups/home/u/.kube/config");
        assert_eq!(fs::read_to_string(backup).unwrap(), "old\n");
    }
}
