//! Commands beyond plan/apply/check: `version`, `join-command`, `token`, `man`, the effective
//! profile of `profile show`, and the recap's `bootstrap apply` hint. Each prints for people or,
//! with `--output json`, one JSON document.

pub mod access;
pub mod bake;
pub mod certs;
pub mod effective;
pub mod etcd;
pub mod hint;
pub mod join;
pub mod kubeconfig;
pub mod man;
pub mod reset;
pub mod show;
pub mod upgrade;
pub mod version;

use std::io::Write;

/// Prints one JSON document on stdout (a closed pipe is not an error).
pub fn print_json(value: &serde_json::Value) {
    let mut text = serde_json::to_string(value).unwrap_or_default();
    text.push('\n');
    write_stdout(text.as_bytes());
}

/// Writes `bytes` to stdout; returns exit code 0, also when the reader closed the pipe early
/// (`bootstrap completions bash | head -1`), 1 on any other write error.
pub fn write_stdout(bytes: &[u8]) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            1
        }
    }
}

/// The documents of a multi-document YAML text as JSON values (empty when it does not parse).
pub fn yaml_documents(yaml: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(yaml)
        .filter_map(|doc| serde_json::Value::deserialize(doc).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_documents_split() {
        let docs = yaml_documents("a: 1\n---\nb: [x, y]\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["b"][1], "y");
    }
}
