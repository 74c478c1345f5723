//! Node paths resolved inside `--root` the way `chroot(2)` would: `..` never climbs above the
//! root, and a symlink (absolute or relative, in any component) is followed relative to the
//! root, so no profile path or planted link reaches outside it.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The kernel's own limit on symlinks followed in one lookup (`MAXSYMLINKS`, path_resolution(7)).
const MAX_LINKS: usize = 40;

/// Where a path with too many links resolves: a name under the root no step creates.
pub const LOOP: &str = ".bootstrap-too-many-symlinks";

/// The real path of `node_path` under `root`. Every directory component is resolved inside
/// the root; the last component too when `follow_last` (a read or write of what a link
/// points to), and not otherwise (to look at or replace the link itself). A loop of more
/// than [`MAX_LINKS`] links resolves to a name under the root that does not exist
/// ([`LOOP`]), so the lookup fails there instead of following the rest outside.
pub fn in_root(root: &Path, node_path: &str, follow_last: bool) -> PathBuf {
    let mut todo: Vec<OsString> = components(Path::new(node_path));
    todo.reverse();
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            done.pop();
            continue;
        }
        done.push(part);
        let last = todo.is_empty();
        if last && !follow_last {
            break;
        }
        let here = join(root, &done);
        let Ok(target) = std::fs::read_link(&here) else {
            continue;
        };
        links += 1;
        if links > MAX_LINKS {
            return root.join(LOOP).join(rest(&todo));
        }
        done.pop();
        if target.is_absolute() {
            done.clear();
        }
        let mut more = components(&target);
        more.reverse();
        todo.extend(more);
    }
    join(root, &done)
}

/// The normal components of `path`, with `..` kept and `.` and `/` dropped.
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

fn rest(todo: &[OsString]) -> PathBuf {
    todo.iter().rev().collect()
}

/// `node_path` without `..` above the root and without `.`, as an absolute node path: the
/// lexical form used for names (journal records, backup paths), never for opening files.
pub fn lexical(node_path: &str) -> String {
    let mut done: Vec<OsString> = Vec::new();
    for part in components(Path::new(node_path)) {
        if part == ".." {
            done.pop();
        } else {
            done.push(part);
        }
    }
    let mut out = String::new();
    for part in done {
        out.push('/');
        out.push_str(&String::from_utf8_lossy(part.as_bytes()));
    }
    if out.is_empty() { "/".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn dot_dot_stays_in_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(
            in_root(root, "/../../etc/hosts", true),
            root.join("etc/hosts")
        );
        assert_eq!(
            in_root(root, "etc/./a/../hosts", true),
            root.join("etc/hosts")
        );
        assert_eq!(lexical("/etc/../../x/./y"), "/x/y");
        assert_eq!(lexical("/.."), "/");
    }

    #[test]
    fn links_resolve_relative_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc/real")).unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        // An absolute link to a real path outside the root lands under the root instead.
        symlink(&outside, root.join("etc/abs")).unwrap();
        let inside = root.join(outside.strip_prefix("/").unwrap());
        assert_eq!(in_root(&root, "/etc/abs/f", true), inside.join("f"));
        // A relative link climbing out is clamped at the root.
        symlink("../../../../../../..", root.join("etc/up")).unwrap();
        assert_eq!(in_root(&root, "/etc/up/etc/x", true), root.join("etc/x"));
        // A directory link inside the root is followed; the last link only when asked.
        symlink("/etc/real", root.join("etc/dir")).unwrap();
        assert_eq!(in_root(&root, "/etc/dir/f", true), root.join("etc/real/f"));
        symlink("real", root.join("etc/last")).unwrap();
        assert_eq!(in_root(&root, "/etc/last", false), root.join("etc/last"));
        assert_eq!(in_root(&root, "/etc/last", true), root.join("etc/real"));
    }

    #[test]
    fn a_loop_stops_at_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        assert_eq!(in_root(root, "/a/x", true), root.join(LOOP).join("x"));
    }
}
