//! One value per decision hook: which component file serves each hook, and, once loaded,
//! which policy answers it.
//!
//! `review-tools` (world 0.2.0) has no slot of its own: the component that decides
//! `should-disable` (how far to trust a failing server) also decides how to treat its changed
//! tools, so bundle manifests written for 0.1.0 stay valid. A 0.1.0 component has no
//! `review-tools`: the embedded default answers it (see `host`).
//!
//! A user's policy is one component serving all three hooks. A signed bundle's manifest names
//! a component per hook, so an enterprise can, say, ship its own backoff and keep the default
//! auto-disable logic in another component; each distinct file is loaded once.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The decisions a policy makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    ShouldDisable,
    Backoff,
    FilterReload,
    ReviewTools,
}

impl Hook {
    /// Every decision, as metrics and status count them.
    pub const ALL: [Hook; 4] = [
        Hook::ShouldDisable,
        Hook::Backoff,
        Hook::FilterReload,
        Hook::ReviewTools,
    ];
    /// The hooks a bundle manifest assigns a component.
    pub const IN_MANIFEST: [Hook; 3] = [Hook::ShouldDisable, Hook::Backoff, Hook::FilterReload];

    /// As status and metrics name it: `should-disable`, `backoff`, `filter-reload`.
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::ShouldDisable => "should-disable",
            Hook::Backoff => "backoff",
            Hook::FilterReload => "filter-reload",
            Hook::ReviewTools => "review-tools",
        }
    }

    /// As a bundle manifest's `hooks` names it: `should_disable`, `backoff`, `filter_reload`.
    pub fn field(self) -> &'static str {
        match self {
            Hook::ShouldDisable => "should_disable",
            Hook::Backoff => "backoff",
            Hook::FilterReload => "filter_reload",
            Hook::ReviewTools => "review_tools",
        }
    }
}

/// In a bundle manifest, `hooks`: `{"should_disable": …, "backoff": …, "filter_reload": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerHook<T> {
    pub should_disable: T,
    pub backoff: T,
    pub filter_reload: T,
}

/// The component file serving each hook.
pub type PolicyFiles = PerHook<PathBuf>;

impl<T> PerHook<T> {
    /// The same value for every hook.
    pub fn same(value: T) -> Self
    where
        T: Clone,
    {
        PerHook {
            should_disable: value.clone(),
            backoff: value.clone(),
            filter_reload: value,
        }
    }

    pub fn get(&self, hook: Hook) -> &T {
        match hook {
            Hook::ShouldDisable | Hook::ReviewTools => &self.should_disable,
            Hook::Backoff => &self.backoff,
            Hook::FilterReload => &self.filter_reload,
        }
    }

    /// The values in hook order.
    pub fn iter(&self) -> impl Iterator<Item = (Hook, &T)> {
        Hook::IN_MANIFEST.into_iter().map(move |h| (h, self.get(h)))
    }

    /// The values without repeats (`same` says what a repeat is), in hook order.
    pub fn distinct_by(&self, same: impl Fn(&T, &T) -> bool) -> Vec<&T> {
        let mut out: Vec<&T> = Vec::new();
        for (_, v) in self.iter() {
            if !out.iter().any(|seen| same(seen, v)) {
                out.push(v);
            }
        }
        out
    }

    /// Applies `f` to each value, in hook order.
    pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> PerHook<U> {
        PerHook {
            should_disable: f(&self.should_disable),
            backoff: f(&self.backoff),
            filter_reload: f(&self.filter_reload),
        }
    }

    /// Applies `f` to each value, in hook order; the first error stops it.
    pub fn try_map<U, E>(&self, mut f: impl FnMut(&T) -> Result<U, E>) -> Result<PerHook<U>, E> {
        Ok(PerHook {
            should_disable: f(&self.should_disable)?,
            backoff: f(&self.backoff)?,
            filter_reload: f(&self.filter_reload)?,
        })
    }
}

impl<T: PartialEq> PerHook<T> {
    /// The values without repeats, in hook order.
    pub fn distinct(&self) -> Vec<&T> {
        self.distinct_by(T::eq)
    }

    /// The one value serving every hook, if there is one.
    pub fn single(&self) -> Option<&T> {
        match self.distinct().as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

impl From<PathBuf> for PolicyFiles {
    fn from(path: PathBuf) -> Self {
        PerHook::same(path)
    }
}

impl From<&Path> for PolicyFiles {
    fn from(path: &Path) -> Self {
        PerHook::same(path.to_path_buf())
    }
}

/// `a.wasm`, or `should-disable: a.wasm, backoff: b.wasm, filter-reload: a.wasm`.
impl fmt::Display for PolicyFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(one) = self.single() {
            return write!(f, "{}", one.display());
        }
        for (i, (hook, path)) in self.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{}: {}", hook.as_str(), path.display())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_is_single_and_displays_as_itself() {
        let files = PolicyFiles::from(PathBuf::from("/p/a.wasm"));
        assert_eq!(files.single(), Some(&PathBuf::from("/p/a.wasm")));
        assert_eq!(files.to_string(), "/p/a.wasm");
    }

    #[test]
    fn files_per_hook_are_listed_once_each_in_hook_order() {
        let files = PerHook {
            should_disable: PathBuf::from("a.wasm"),
            backoff: PathBuf::from("b.wasm"),
            filter_reload: PathBuf::from("a.wasm"),
        };
        assert_eq!(files.single(), None);
        assert_eq!(
            files.distinct(),
            [&PathBuf::from("a.wasm"), &PathBuf::from("b.wasm")]
        );
        assert_eq!(
            files.to_string(),
            "should-disable: a.wasm, backoff: b.wasm, filter-reload: a.wasm"
        );
    }
}
