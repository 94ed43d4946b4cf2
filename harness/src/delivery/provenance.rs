//! The Support row's stand-in: the licence and owner of the Go modules a method's images were
//! built from, read from each module's LICENSE in the local Go module cache (offline images only:
//! online, upstream's images ran and nothing was built here).

use std::path::{Path, PathBuf};

/// A Go module an offline image is built from.
#[derive(Clone, Copy, Debug)]
pub struct SourceModule {
    pub path: &'static str,
    pub version: &'static str,
}

/// `$GOMODCACHE`, else `$GOPATH/pkg/mod` (its first entry), else `~/go/pkg/mod`: Go's own order.
pub fn module_cache() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GOMODCACHE").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(gopath) = std::env::var_os("GOPATH").filter(|d| !d.is_empty()) {
        return std::env::split_paths(&gopath).next().map(|p| p.join("pkg/mod"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join("go/pkg/mod"))
}

/// `module v1.2.3: MPL-2.0, owner hashicorp (LICENSE in the Go module cache)`, or why it could
/// not be read.
pub fn licence_line(cache: &Path, module: SourceModule) -> (bool, String) {
    let file = cache
        .join(format!("{}@{}", escaped(module.path), module.version))
        .join("LICENSE");
    let name = format!("{} {}", module.path, module.version);
    match std::fs::read_to_string(&file) {
        Ok(text) => (
            true,
            format!(
                "{name}: {}, owner {} (its LICENSE in the Go module cache)",
                licence(&text),
                owner(module.path)
            ),
        ),
        Err(_) => (false, format!("{name}: no LICENSE in the Go module cache")),
    }
}

/// The licence a LICENSE text is, by the title its licence gives itself.
pub fn licence(text: &str) -> &'static str {
    let flat = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let has = |title: &str| flat.contains(&title.to_ascii_lowercase());
    if has("Business Source License 1.1") {
        "BUSL-1.1"
    } else if has("Mozilla Public License Version 2.0") || has("Mozilla Public License, version 2.0") {
        "MPL-2.0"
    } else if has("Apache License") && has("Version 2.0") {
        "Apache-2.0"
    } else if has("Permission is hereby granted, free of charge") {
        "MIT"
    } else {
        "an unrecognised licence"
    }
}

/// Who publishes a module, from its path: the organisation of a code host, else the domain.
fn owner(path: &str) -> String {
    let mut parts = path.split('/');
    let host = parts.next().unwrap_or(path);
    match (host, parts.next()) {
        ("github.com" | "gitlab.com", Some(org)) => org.to_string(),
        _ => host.to_string(),
    }
}

/// The module cache's spelling of a path: each capital letter as `!` and its lower case.
fn escaped(path: &str) -> String {
    path.chars()
        .flat_map(|c| match c.is_ascii_uppercase() {
            true => vec!['!', c.to_ascii_lowercase()],
            false => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_licence_is_named_by_its_title_and_a_missing_file_said_so() {
        assert_eq!(
            licence("Copyright (c) HashiCorp\n\nMozilla Public License Version 2.0\n=="),
            "MPL-2.0"
        );
        assert_eq!(
            licence(
                "\n                                 Apache License\n                           Version 2.0, January 2004\n"
            ),
            "Apache-2.0"
        );
        assert_eq!(
            licence("License text copyright (c) 2020 MariaDB\nBusiness Source License 1.1\n"),
            "BUSL-1.1"
        );
        assert_eq!(licence("All rights reserved."), "an unrecognised licence");
        assert_eq!(owner("github.com/hashicorp/vault-k8s"), "hashicorp");
        assert_eq!(owner("sigs.k8s.io/secrets-store-csi-driver"), "sigs.k8s.io");
        assert_eq!(escaped("github.com/Azure/go-autorest"), "github.com/!azure/go-autorest");

        let cache = tempfile::tempdir().unwrap();
        let module = SourceModule {
            path: "github.com/example/Tool",
            version: "v1.0.0",
        };
        assert_eq!(
            licence_line(cache.path(), module),
            (
                false,
                "github.com/example/Tool v1.0.0: no LICENSE in the Go module cache".into()
            )
        );
        let dir = cache.path().join("github.com/example/!tool@v1.0.0");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("LICENSE"), "Apache License\nVersion 2.0, January 2004\n").unwrap();
        assert_eq!(
            licence_line(cache.path(), module),
            (
                true,
                "github.com/example/Tool v1.0.0: Apache-2.0, owner example (its LICENSE in the Go module cache)".into()
            )
        );
    }
}
