//! `mcpproxy policy new`: writes a policy project (Rust, JavaScript or Python) from templates
//! embedded in the binary, ready to build and to pass `mcpproxy policy test` unchanged.
//!
//! Never overwrites anything: the project directory must not exist yet.

use std::path::Path;

use anyhow::{Context, bail};

/// The WIT world, copied into every project so it builds without mcpproxy's sources. Still
/// 0.1.0: the templates do not implement `review-tools` yet, and the embedded default answers
/// it for them.
const WIT: &str = include_str!("../../../../wit/0.1.0/policy.wit");
/// A scenario the generated policy passes (`mcpproxy policy test NAME.wasm --scenario scenario.json`).
const SCENARIO: &str = include_str!("templates/scenario.json");
const GITIGNORE: &str = "/target\n*.wasm\n__pycache__/\n";

/// The language of a new policy project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Js,
    Python,
}

impl std::str::FromStr for Lang {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Lang> {
        match s {
            "rust" => Ok(Lang::Rust),
            "js" | "javascript" => Ok(Lang::Js),
            "python" | "py" => Ok(Lang::Python),
            other => bail!("unknown policy language `{other}` (expected rust, js or python)"),
        }
    }
}

/// One file of a template: its path in the project and its text (with `{{name}}` / `{{crate}}`).
struct TemplateFile {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> TemplateFile {
    TemplateFile {
        path,
        text,
        executable: false,
    }
}

const fn script(path: &'static str, text: &'static str) -> TemplateFile {
    TemplateFile {
        path,
        text,
        executable: true,
    }
}

const RUST: &[TemplateFile] = &[
    file("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
    file("Cargo.lock", include_str!("templates/rust/Cargo.lock")),
    file("src/lib.rs", include_str!("templates/rust/src/lib.rs")),
    file("README.md", include_str!("templates/rust/README.md")),
    script("build.sh", include_str!("templates/rust/build.sh")),
];

const JS: &[TemplateFile] = &[
    file("policy.js", include_str!("templates/js/policy.js")),
    file("README.md", include_str!("templates/js/README.md")),
    script("build.sh", include_str!("templates/js/build.sh")),
];

const PYTHON: &[TemplateFile] = &[
    file("app.py", include_str!("templates/python/app.py")),
    file("README.md", include_str!("templates/python/README.md")),
    script("build.sh", include_str!("templates/python/build.sh")),
];

/// Checks that `name` can be a Cargo package, a file name and part of a message:
/// lowercase ASCII letters, digits, `-` and `_`, starting with a letter, at most 64 characters.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        bail!(
            "policy name `{name}`: use lowercase letters, digits, `-` and `_`, starting with a letter (at most 64)"
        );
    }
    Ok(())
}

/// JS and Python components need more time and memory per decision than the host's
/// defaults (10 ms, 16 MiB): the limits they run under, as scenario fields and as
/// `policy check` flags.
fn limits_for(lang: Lang) -> (&'static str, &'static str) {
    match lang {
        Lang::Rust => ("", ""),
        Lang::Js | Lang::Python => (
            "  \"deadline_ms\": 200,\n  \"memory_limit_mib\": 64,\n",
            " --deadline-ms 200 --memory-limit-mib 64",
        ),
    }
}

/// The project's files, names substituted: (path in the project, text, executable).
fn render(lang: Lang, name: &str) -> Vec<(String, String, bool)> {
    let templates = match lang {
        Lang::Rust => RUST,
        Lang::Js => JS,
        Lang::Python => PYTHON,
    };
    let crate_name = name.replace('-', "_");
    let (limits, limit_flags) = limits_for(lang);
    let fill = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{limits}}", limits)
            .replace("{{limit_flags}}", limit_flags)
    };
    let mut out: Vec<(String, String, bool)> = templates
        .iter()
        .map(|t| (t.path.to_string(), fill(t.text), t.executable))
        .collect();
    out.push(("wit/policy.wit".into(), WIT.to_string(), false));
    out.push(("scenario.json".into(), fill(SCENARIO), false));
    out.push((".gitignore".into(), GITIGNORE.to_string(), false));
    out
}

/// Writes a new `lang` policy project called `name` into `dir`, which must not exist yet
/// (its parent must). Returns the text to print: what was written and what to do next.
pub fn new_project(lang: Lang, name: &str, dir: &Path) -> anyhow::Result<String> {
    check_name(name)?;
    // `create_dir` (not `create_dir_all`) fails if `dir` exists: nothing is ever overwritten,
    // and two racing calls cannot both write into the same directory.
    std::fs::create_dir(dir).with_context(|| match dir.try_exists() {
        Ok(true) => format!("{} already exists: not overwriting it", dir.display()),
        _ => format!("cannot create the project directory {}", dir.display()),
    })?;
    let files = render(lang, name);
    for (path, text, executable) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write {}", target.display()))?;
        if *executable {
            make_executable(&target)?;
        }
    }
    let mut out = format!(
        "created {} policy `{name}` in {}:\n",
        lang_name(lang),
        dir.display()
    );
    for (path, _, _) in &files {
        out.push_str(&format!("  {path}\n"));
    }
    out.push_str(&format!(
        "next:\n  cd {}\n  ./build.sh\n  mcpproxy policy test {name}.wasm --scenario scenario.json\n  mcpproxy policy check {name}.wasm{}\n",
        dir.display(),
        limits_for(lang).1
    ));
    Ok(out)
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "Rust",
        Lang::Js => "JavaScript",
        Lang::Python => "Python",
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["p", "my-policy", "strict_2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "My", "1st", "a b", "a/b", "../x", "é", &"a".repeat(65)] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
    }

    #[test]
    fn every_template_is_filled_in_and_carries_the_wit() {
        for lang in [Lang::Rust, Lang::Js, Lang::Python] {
            let files = render(lang, "my-pol");
            for (path, text, _) in &files {
                assert!(!text.contains("{{"), "{lang:?} {path} keeps a placeholder");
            }
            let wit = files.iter().find(|f| f.0 == "wit/policy.wit").unwrap();
            assert!(wit.1.contains("package mcpproxy:policy@"));
            let build = files.iter().find(|f| f.0 == "build.sh").unwrap();
            assert!(
                build.2 && build.1.contains("my-pol.wasm"),
                "{lang:?} build.sh"
            );
            assert!(
                files
                    .iter()
                    .any(|f| f.0 == "README.md" && f.1.contains("# my-pol"))
            );
        }
        let rust = render(Lang::Rust, "my-pol");
        let build = &rust.iter().find(|f| f.0 == "build.sh").unwrap().1;
        assert!(build.contains("release/my_pol.wasm"), "{build}");
        let manifest = &rust.iter().find(|f| f.0 == "Cargo.toml").unwrap().1;
        assert!(manifest.contains("name = \"my-pol\""));
    }

    #[test]
    fn languages_parse() {
        assert_eq!("rust".parse::<Lang>().unwrap(), Lang::Rust);
        assert_eq!("js".parse::<Lang>().unwrap(), Lang::Js);
        assert_eq!("python".parse::<Lang>().unwrap(), Lang::Python);
        assert!(
            "go".parse::<Lang>()
                .unwrap_err()
                .to_string()
                .contains("`go`")
        );
    }
}
