//! The `bootstrap apply ...` command a plan or check recap advises: it repeats the options the
//! run was given (`--root`, `--profile`, `--only`, `--skip`), quoted for a POSIX shell.

use std::path::Path;

use crate::cli::RunArgs;

/// Quotes one word for a POSIX shell (unchanged when it needs no quoting).
fn quote(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| format!("'{word}'"), |q| q.into_owned())
}

/// `bootstrap VERB... [--root R] --profile P`, as words.
fn command_words(verb: &[&str], root: &Path, profile: &Path) -> Vec<String> {
    let mut words = vec!["bootstrap".to_string()];
    words.extend(verb.iter().map(|w| w.to_string()));
    if root != Path::new("/") {
        words.push("--root".into());
        words.push(quote(&root.display().to_string()));
    }
    words.push("--profile".into());
    words.push(quote(&profile.display().to_string()));
    words
}

/// `bootstrap upgrade apply [--root R] --profile P`: what an upgrade plan's recap advises.
pub fn upgrade_apply_command(root: &Path, profile: &Path) -> String {
    command_words(&["upgrade", "apply"], root, profile).join(" ")
}

/// `bootstrap apply [--root R] --profile P [--only S]... [--skip S]...`.
pub fn apply_command(root: &Path, args: &RunArgs) -> String {
    let mut words = command_words(&["apply"], root, &args.profile);
    for (flag, steps) in [("--only", &args.only), ("--skip", &args.skip)] {
        for step in steps {
            words.push(flag.into());
            words.push(quote(step));
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_root_profile_and_selection_quoted() {
        let args = RunArgs {
            profile: "/tmp/my profile.toml".into(),
            only: vec!["hosts".into(), "swap".into()],
            skip: vec![],
        };
        assert_eq!(
            apply_command(Path::new("/srv/node's root"), &args),
            r#"bootstrap apply --root "/srv/node's root" --profile '/tmp/my profile.toml' --only hosts --only swap"#
        );
        let plain = RunArgs {
            profile: "p.toml".into(),
            only: vec![],
            skip: vec!["kubeadm".into()],
        };
        assert_eq!(
            apply_command(Path::new("/"), &plain),
            "bootstrap apply --profile p.toml --skip kubeadm"
        );
    }
}
