//! The etcd static pod manifest kubeadm writes (`/etc/kubernetes/manifests/etcd.yaml`): the
//! facts a snapshot and a restore need, read from it, and the one edit a restore makes.
//! Pure: text in, facts or text out.
//!
//! kubeadm builds the pod in `cmd/kubeadm/app/phases/etcd/local.go` (`GetEtcdPodSpec`,
//! `getEtcdCommand`): the container `etcd` runs `etcd --name=<node> --listen-client-urls=
//! https://127.0.0.1:2379,https://<ip>:2379 --initial-advertise-peer-urls=https://<ip>:2380
//! --initial-cluster=<node>=https://<ip>:2380 --data-dir=/var/lib/etcd --trusted-ca-file=
//! /etc/kubernetes/pki/etcd/ca.crt …`, and the volume `etcd-data` is a hostPath
//! (`DirectoryOrCreate`) to the data directory, mounted at the same path. kubeadm's own reset
//! finds the data directory the same way (`cmd/kubeadm/app/cmd/phases/reset/cleanupnode.go`,
//! the `etcd-data` hostPath). The manifest is written through sigs.k8s.io/yaml, so keys are
//! sorted (in each volume `hostPath` comes before `name`).

use serde_norway::Value;

/// The name of the volume holding etcd's data directory in kubeadm's manifest.
pub const DATA_VOLUME: &str = "etcd-data";

/// What the manifest says about the local etcd member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdFacts {
    /// `--name`: the member name (kubeadm uses the node name).
    pub name: String,
    /// The client URL to reach this member on (a loopback `--listen-client-urls` entry, else
    /// the first `--advertise-client-urls`).
    pub endpoint: String,
    /// `--initial-advertise-peer-urls`.
    pub peer_urls: String,
    /// `--initial-cluster` as written.
    pub initial_cluster: String,
    /// `--trusted-ca-file` (the etcd CA).
    pub ca_file: String,
    /// The host directory of the `etcd-data` volume.
    pub data_dir: String,
}

/// Why the manifest could not be read or edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML.
    #[error("not valid YAML: {0}")]
    Yaml(String),
    /// Something kubeadm always writes is missing.
    #[error("{0} (is this the etcd manifest kubeadm wrote?)")]
    Missing(String),
    /// The edit would change more than the hostPath (it is checked after the fact).
    #[error("the edit of the etcd-data hostPath changed more than that path: {0}")]
    Unsafe(String),
}

fn missing(what: impl Into<String>) -> ManifestError {
    ManifestError::Missing(what.into())
}

/// The `etcd` container's command and args, as `--flag=value` words.
fn etcd_words(doc: &Value) -> Result<Vec<String>, ManifestError> {
    let containers = doc["spec"]["containers"]
        .as_sequence()
        .ok_or_else(|| missing("no spec.containers"))?;
    let etcd = containers
        .iter()
        .find(|c| c["name"].as_str() == Some("etcd"))
        .ok_or_else(|| missing("no container named etcd in spec.containers"))?;
    let words = |key: &str| -> Vec<String> {
        etcd[key]
            .as_sequence()
            .map(|s| {
                s.iter()
                    .filter_map(|w| w.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut all = words("command");
    all.extend(words("args"));
    Ok(all)
}

/// The value of `--flag=value` (the last one wins, as with etcd's own flag parsing).
fn flag<'a>(words: &'a [String], name: &str) -> Option<&'a str> {
    let prefix = format!("--{name}=");
    words
        .iter()
        .rev()
        .find_map(|w| w.strip_prefix(&prefix))
        .filter(|v| !v.is_empty())
}

/// The host path of the `etcd-data` volume.
fn data_volume(doc: &Value) -> Option<&str> {
    doc["spec"]["volumes"]
        .as_sequence()?
        .iter()
        .find(|v| v["name"].as_str() == Some(DATA_VOLUME))?["hostPath"]["path"]
        .as_str()
}

/// Whether a client URL names the loopback interface.
fn is_loopback(url: &str) -> bool {
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")
}

/// Reads the facts a snapshot and a restore need; every missing one is named.
pub fn facts(text: &str) -> Result<EtcdFacts, ManifestError> {
    let doc: Value =
        serde_norway::from_str(text).map_err(|e| ManifestError::Yaml(e.to_string()))?;
    let words = etcd_words(&doc)?;
    let mut absent = Vec::new();
    let mut get = |name: &str| {
        flag(&words, name).map(str::to_string).unwrap_or_else(|| {
            absent.push(format!("--{name}"));
            String::new()
        })
    };
    let name = get("name");
    let peer_urls = get("initial-advertise-peer-urls");
    let initial_cluster = get("initial-cluster");
    let ca_file = get("trusted-ca-file");
    let listen = flag(&words, "listen-client-urls").unwrap_or_default();
    let advertise = flag(&words, "advertise-client-urls").unwrap_or_default();
    let endpoint = listen
        .split(',')
        .find(|u| is_loopback(u))
        .or_else(|| advertise.split(',').find(|u| !u.is_empty()))
        .map(str::to_string);
    if endpoint.is_none() {
        absent.push("--listen-client-urls or --advertise-client-urls".into());
    }
    let data_dir = data_volume(&doc).map(str::to_string);
    if data_dir.is_none() {
        absent.push(format!("the hostPath of volume {DATA_VOLUME}"));
    }
    if !absent.is_empty() {
        return Err(missing(format!(
            "the etcd container has no {}",
            absent.join(", ")
        )));
    }
    Ok(EtcdFacts {
        name,
        endpoint: endpoint.unwrap_or_default(),
        peer_urls,
        initial_cluster,
        ca_file,
        data_dir: data_dir.unwrap_or_default(),
    })
}

/// The members `--initial-cluster` names other than `name`.
pub fn other_members(facts: &EtcdFacts) -> Vec<String> {
    facts
        .initial_cluster
        .split(',')
        .filter_map(|m| m.split_once('=').map(|(n, _)| n.to_string()))
        .filter(|n| *n != facts.name)
        .collect()
}

/// The manifest with the `etcd-data` hostPath set to `new_dir`; every other byte is kept.
/// The scalar is found with the YAML parser's own positions and replaced in place (as a
/// double-quoted string when a plain scalar would not read back as the same text); then
/// the result is parsed again and must equal the original but for that one path.
pub fn set_data_dir(text: &str, new_dir: &str) -> Result<String, ManifestError> {
    let (start, end) = data_path_span(text)?;
    let plain = !new_dir.is_empty()
        && new_dir
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
    let rendered = if plain {
        new_dir.to_string()
    } else {
        serde_json::to_string(new_dir).map_err(|e| ManifestError::Unsafe(e.to_string()))?
    };
    let edited = format!("{}{rendered}{}", &text[..start], &text[end..]);
    let mut want: Value =
        serde_norway::from_str(text).map_err(|e| ManifestError::Yaml(e.to_string()))?;
    set_volume_path(&mut want, new_dir);
    let got: Value =
        serde_norway::from_str(&edited).map_err(|e| ManifestError::Unsafe(e.to_string()))?;
    if got != want {
        return Err(ManifestError::Unsafe(
            "the edited manifest does not read back as the original with the new path".into(),
        ));
    }
    Ok(edited)
}

fn set_volume_path(doc: &mut Value, new_dir: &str) {
    if let Some(volumes) = doc["spec"]["volumes"].as_sequence_mut() {
        for v in volumes {
            if v["name"].as_str() == Some(DATA_VOLUME) {
                v["hostPath"]["path"] = Value::String(new_dir.to_string());
            }
        }
    }
}

/// The byte range of the `etcd-data` volume's `hostPath.path` scalar in `text`.
fn data_path_span(text: &str) -> Result<(usize, usize), ManifestError> {
    let spans = super::yaml_spans::scalar_spans(text).map_err(ManifestError::Yaml)?;
    // spec.volumes[i].name and spec.volumes[i].hostPath.path, by volume index.
    let index_of = |path: &[String], tail: &[&str]| -> Option<String> {
        (path.len() == 3 + tail.len()
            && path[0] == "spec"
            && path[1] == "volumes"
            && path[3..]
                .iter()
                .map(String::as_str)
                .eq(tail.iter().copied()))
        .then(|| path[2].clone())
    };
    let item = spans
        .iter()
        .find(|s| index_of(&s.path, &["name"]).is_some() && s.value == DATA_VOLUME)
        .and_then(|s| index_of(&s.path, &["name"]))
        .ok_or_else(|| missing(format!("no volume named {DATA_VOLUME} in spec.volumes")))?;
    let path = spans
        .iter()
        .find(|s| index_of(&s.path, &["hostPath", "path"]).as_ref() == Some(&item))
        .ok_or_else(|| missing(format!("volume {DATA_VOLUME} has no hostPath.path")))?;
    Ok((path.start, path.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/etcd/etcd.yaml");

    #[test]
    fn reads_kubeadms_manifest() {
        let f = facts(FIXTURE).unwrap();
        assert_eq!(f.name, "master");
        assert_eq!(f.endpoint, "https://127.0.0.1:2379");
        assert_eq!(f.peer_urls, "https://192.168.33.13:2380");
        assert_eq!(f.initial_cluster, "master=https://192.168.33.13:2380");
        assert_eq!(f.ca_file, "/etc/kubernetes/pki/etcd/ca.crt");
        assert_eq!(f.data_dir, "/var/lib/etcd");
        assert!(other_members(&f).is_empty());
    }

    #[test]
    fn the_edit_changes_only_the_data_hostpath() {
        let edited = set_data_dir(FIXTURE, "/var/lib/etcd-from-backup-20261201T161500Z").unwrap();
        let before: Vec<&str> = FIXTURE.lines().collect();
        let after: Vec<&str> = edited.lines().collect();
        assert_eq!(before.len(), after.len());
        let differ: Vec<(&str, &str)> = before
            .iter()
            .zip(&after)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| (*a, *b))
            .collect();
        assert_eq!(
            differ,
            [(
                "      path: /var/lib/etcd",
                "      path: /var/lib/etcd-from-backup-20261201T161500Z"
            )]
        );
        // The mount path and the --data-dir flag inside the container stay.
        assert!(edited.contains("    - --data-dir=/var/lib/etcd\n"));
        assert!(edited.contains("    - mountPath: /var/lib/etcd\n"));
        assert_eq!(
            facts(&edited).unwrap().data_dir,
            "/var/lib/etcd-from-backup-20261201T161500Z"
        );
        // Twice is once; back again is the original.
        let twice = set_data_dir(&edited, "/var/lib/etcd-from-backup-20261201T161500Z").unwrap();
        assert_eq!(twice, edited);
        assert_eq!(set_data_dir(&edited, "/var/lib/etcd").unwrap(), FIXTURE);
    }

    #[test]
    fn quoted_flow_and_odd_values_are_edited_safely() {
        let text = "spec:\n  volumes:\n  - {hostPath: {path: '/var/lib/etcd', type: DirectoryOrCreate}, name: etcd-data}  # data\n  - hostPath:\n      path: /var/lib/etcd\n    name: other\n";
        let edited = set_data_dir(text, "/srv/etcd new: #1").unwrap();
        assert_eq!(
            edited,
            "spec:\n  volumes:\n  - {hostPath: {path: \"/srv/etcd new: #1\", type: DirectoryOrCreate}, name: etcd-data}  # data\n  - hostPath:\n      path: /var/lib/etcd\n    name: other\n"
        );
        let err = set_data_dir("spec:\n  volumes: []\n", "/x").unwrap_err();
        assert!(
            err.to_string().contains("no volume named etcd-data"),
            "{err}"
        );
        let err = facts("spec:\n  containers:\n  - name: etcd\n    command: [etcd]\n").unwrap_err();
        let text = err.to_string();
        for flag in [
            "--name",
            "--initial-cluster",
            "--trusted-ca-file",
            "etcd-data",
        ] {
            assert!(text.contains(flag), "{text}");
        }
    }
}
