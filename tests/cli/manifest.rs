//! Promises the manifest makes: the minimum Rust it names is the true minimum of the
//! dependency tree, and README names the same.

use std::process::Command;

/// `1.94.0` or `1.94` as numbers, for comparing.
fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    parts.resize(3, 0);
    parts
}

#[test]
fn rust_version_is_the_highest_any_dependency_needs() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let ours = packages
        .iter()
        .find(|p| p["name"] == "azu-session")
        .and_then(|p| p["rust_version"].as_str())
        .expect("our rust-version");
    let (needed, by) = packages
        .iter()
        .filter(|p| p["name"] != "azu-session")
        .filter_map(|p| Some((p["rust_version"].as_str()?, p["name"].as_str()?)))
        .max_by_key(|(v, _)| version(v))
        .expect("dependencies with a rust-version");
    assert_eq!(
        version(ours),
        version(needed),
        "Cargo.toml says rust-version {ours}, but {by} needs {needed}: make them the same"
    );
    let short: Vec<&str> = needed.split('.').take(2).collect();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    assert!(
        readme.contains(&format!("Rust {} or newer", short.join("."))),
        "README does not say Rust {} or newer",
        short.join(".")
    );
}
