//! containerd registry host files (`certs.d/<registry>/hosts.toml`) for mirrors.

/// The upstream server of a registry name: Docker Hub's API lives elsewhere than its name.
pub fn upstream(registry: &str) -> String {
    match registry {
        "docker.io" => "https://registry-1.docker.io".to_string(),
        other if other.starts_with("http://") || other.starts_with("https://") => other.to_string(),
        other => format!("https://{other}"),
    }
}

/// Renders `hosts.toml` for `registry` with `mirrors` tried in order, then the upstream.
pub fn render(registry: &str, mirrors: &[String]) -> String {
    let mut out = format!(
        "# Mirrors for {registry}, managed by bootstrap: changes here are overwritten.\nserver = \"{}\"\n",
        upstream(registry)
    );
    for mirror in mirrors {
        out.push_str(&format!(
            "\n[host.\"{mirror}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_valid_toml_with_mirrors_in_order() {
        let text = super::render(
            "docker.io",
            &["https://mirror.gcr.io".into(), "https://m2.example".into()],
        );
        let doc: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(doc["server"].as_str(), Some("https://registry-1.docker.io"));
        let hosts = doc["host"].as_table().unwrap();
        assert_eq!(
            hosts.keys().collect::<Vec<_>>(),
            ["https://mirror.gcr.io", "https://m2.example"]
        );
        assert_eq!(super::upstream("quay.io"), "https://quay.io");
    }
}
