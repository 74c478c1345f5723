//! Fake Kubernetes release trees: small shell scripts standing in for kubeadm, kubelet,
//! kubectl and crictl (each answers its version call with the right version), tarballs of
//! crictl and the CNI plugins, `.sha256` files, and the same tree as a bundle.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The architecture in release paths (the test binary's own).
pub fn arch() -> &'static str {
    bootstrap::packages::artifacts::arch()
}

/// A program that reports `version` the way kubeadm, kubelet, kubectl and crictl do, and
/// prints a bash completion for `completion bash`.
pub fn fake_program(version: &str) -> String {
    format!(
        "#!/bin/sh\n# fake Kubernetes program\nV={version}\ncase \"$*\" in\n  \"version -o short\") echo \"v$V\" ;;\n  \"version --client\") printf 'Client Version: v%s\\nKustomize Version: v5.4.2\\n' \"$V\" ;;\n  \"completion bash\") echo \"# bash completion for kubectl v$V\" ;;\n  *) echo \"Kubernetes v$V\" ;;\nesac\n"
    )
}

/// Lowercase hex SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A .tar.gz of `(name, contents)` files, mode 0755.
pub fn tar_gz(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        builder
            .append_data(&mut header, name, data.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// The CNI plugins a fake tarball holds.
pub const CNI_PLUGINS: [&str; 3] = ["bridge", "host-local", "loopback"];

/// A release tree: path below the server root (`/release/v1.31.4/bin/linux/amd64/kubeadm`,
/// `/cri-tools/…`, `/cni-plugins/…`) → bytes, without checksum files.
pub fn tree(kube: &str, cri: &str, cni: &str) -> BTreeMap<String, Vec<u8>> {
    let arch = arch();
    let mut out = BTreeMap::new();
    for name in ["kubeadm", "kubelet", "kubectl"] {
        out.insert(
            format!("/release/v{kube}/bin/linux/{arch}/{name}"),
            fake_program(kube).into_bytes(),
        );
    }
    out.insert(
        format!("/cri-tools/v{cri}/crictl-v{cri}-linux-{arch}.tar.gz"),
        tar_gz(&[("crictl", fake_program(cri).into_bytes())]),
    );
    let plugins: Vec<(&str, Vec<u8>)> = CNI_PLUGINS
        .iter()
        .map(|p| {
            (
                *p,
                format!("#!/bin/sh\necho CNI {p} plugin v{cni}\n").into_bytes(),
            )
        })
        .collect();
    out.insert(
        format!("/cni-plugins/v{cni}/cni-plugins-linux-{arch}-v{cni}.tgz"),
        tar_gz(&plugins),
    );
    out
}

/// Serves a tree and a `.sha256` beside every file.
pub fn publish(server: &super::server::Server, tree: &BTreeMap<String, Vec<u8>>) {
    for (path, bytes) in tree {
        server.put(path, bytes.clone());
        server.put(&format!("{path}.sha256"), format!("{}\n", sha256(bytes)));
    }
}

/// A tree as bundle files: paths relative to the bundle's top, and its SHA256SUMS manifest.
pub fn bundle_files(tree: &BTreeMap<String, Vec<u8>>) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = tree
        .iter()
        .map(|(path, bytes)| (path.trim_start_matches('/').to_string(), bytes.clone()))
        .collect();
    let manifest: String = files
        .iter()
        .map(|(rel, bytes)| format!("{}  {rel}\n", sha256(bytes)))
        .collect();
    files.push(("SHA256SUMS".into(), manifest.into_bytes()));
    files
}

/// Writes a tree as a bundle directory with its SHA256SUMS manifest.
pub fn write_bundle(dir: &Path, tree: &BTreeMap<String, Vec<u8>>) {
    for (rel, bytes) in bundle_files(tree) {
        let file = dir.join(rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, bytes).unwrap();
    }
}

/// A tree as a bundle tarball (.tar.gz).
pub fn bundle_tarball(tree: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let files = bundle_files(tree);
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    tar_gz(&refs)
}

/// The `[packages]` URLs pointing at a server's trees.
pub fn urls(server_url: &str) -> String {
    format!(
        "release_url = \"{server_url}/release\"\ncri_tools_url = \"{server_url}/cri-tools\"\ncni_plugins_url = \"{server_url}/cni-plugins\"\napt_url = \"{server_url}/core:/stable:\"\n"
    )
}
