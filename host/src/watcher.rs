//! The debounced config-directory watcher.
