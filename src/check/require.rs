//! `initializer.required`: the app's main file (the target's `main:` in shard.yml, else
//! `src/<name>.cr`) reaches the file that configures the store through relative `require`s
//! (`require "./initializers/*"`, `"./initializers/**"`, `"./config/session"`), as Crystal
//! follows them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use yaml_rust2::Yaml;

use crate::project::{INITIALIZER, SHARD_YML, parse_shard, read_text};

use super::{Check, Context};

/// Files followed at most: a project's own sources, never `lib/`.
const MAX_FILES: usize = 2_000;
/// How deep `require "./dir/**"` is followed (a link loop ends here).
const MAX_DEPTH: usize = 16;

static REQUIRE: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r#"(?m)^[ \t]*require[ \t]+"([^"\n]+)""#));

pub(super) fn checks(cx: &Context) -> Vec<Check> {
    let Some(target) = store_file(cx) else {
        return Vec::new();
    };
    let shown = target
        .strip_prefix(&cx.root)
        .unwrap_or(&target)
        .display()
        .to_string();
    let main = match main_file(&cx.root) {
        Ok(m) => m,
        Err(reason) => {
            return vec![Check::error(
                "initializer.required",
                reason,
                "give shard.yml a `name:` (or a target with `main:`)",
            )];
        }
    };
    let main_path = cx.root.join(&main);
    if !main_path.is_file() {
        return vec![Check::error(
            "initializer.required",
            format!("the app's main file {main} does not exist"),
            "point the target's `main:` in shard.yml at the app's main file",
        )];
    }
    let check = if reaches(&main_path, &target) {
        Check::ok("initializer.required", format!("{main} requires {shown}"))
    } else {
        Check::error(
            "initializer.required",
            format!("{main} does not require {shown}: the app never configures its sessions"),
            format!("add `require \"./initializers/*\"` to {main}"),
        )
    };
    vec![check]
}

/// The file that configures the store.
fn store_file(cx: &Context) -> Option<PathBuf> {
    let store = cx.store()?;
    match (&store.file, cx.from_initializer) {
        (Some(file), false) => Some(cx.root.join(file)),
        _ => Some(cx.root.join(INITIALIZER)),
    }
}

/// The main file, relative to the root: the first target's `main:`, else `src/<name>.cr`.
fn main_file(root: &Path) -> Result<String, String> {
    let path = root.join(SHARD_YML);
    let text = read_text(&path).map_err(|e| e.to_string())?;
    let doc = parse_shard(&path, &text).map_err(|e| e.to_string())?;
    if let Yaml::Hash(targets) = &doc["targets"] {
        let main = targets.values().find_map(|t| t["main"].as_str());
        if let Some(main) = main {
            return Ok(main.to_string());
        }
    }
    match doc["name"].as_str() {
        Some(name) => Ok(format!("src/{name}.cr")),
        None => Err("shard.yml has no `name:` and no target's `main:`".to_string()),
    }
}

/// Whether following relative requires from `main` reaches `target`.
fn reaches(main: &Path, target: &Path) -> bool {
    let Ok(re) = REQUIRE.as_ref() else {
        return false;
    };
    let target = canonical(target);
    let mut seen = HashSet::new();
    let mut stack = vec![canonical(main)];
    while let Some(file) = stack.pop() {
        if file == target {
            return true;
        }
        if seen.len() >= MAX_FILES || !seen.insert(file.clone()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        for cap in re.captures_iter(&text) {
            stack.extend(resolve(&dir, &cap[1]));
        }
    }
    false
}

/// The files a relative `require` names (none for a shard's).
fn resolve(dir: &Path, spec: &str) -> Vec<PathBuf> {
    if !spec.starts_with("./") && !spec.starts_with("../") {
        return Vec::new();
    }
    if let Some(base) = spec.strip_suffix("/**") {
        return crystal_files(&dir.join(base), MAX_DEPTH);
    }
    if let Some(base) = spec.strip_suffix("/*") {
        return crystal_files(&dir.join(base), 0);
    }
    let file = dir.join(spec);
    let with_ext = if spec.ends_with(".cr") {
        file
    } else {
        file.with_extension("cr")
    };
    vec![canonical(&with_ext)]
}

/// The `.cr` files in `dir`, and in its directories `depth` levels down.
fn crystal_files(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth > 0 {
            out.extend(crystal_files(&path, depth - 1));
        } else if path.extension().is_some_and(|e| e == "cr") {
            out.push(canonical(&path));
        }
    }
    out
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
