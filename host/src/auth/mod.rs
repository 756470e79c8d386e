//! Who may use the daemon: bearer tokens, each with a scope, kept hashed in the data dir.
//!
//! A leaf, like `contract`: the downstream's HTTP check, the CLI's `token` commands and the
//! daemon's first run use it, and it imports nothing of theirs. The token file is the one
//! source of truth; the daemon reads it again whenever it changes on disk, so a token created
//! or revoked by `mcpproxy token` works, or stops working, from the next request.

mod profile;
mod store;
mod token;

pub use profile::{Profile, allows_server, allows_tool};
pub use store::{ADMIN_TOKEN_FILE, AuthError, TOKENS_FILE, TokenEntry, TokenStore, Verifier};
pub use token::{Caller, TokenScope, digest, generate, valid_name};
