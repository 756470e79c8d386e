//! `mcpproxy token list | create | revoke`: the token file in the data dir, edited directly,
//! so they work whether the daemon runs or not; a running daemon sees each change from its
//! next request.

use std::process::ExitCode;

use super::{GlobalArgs, TokenCommand, paths};
use crate::auth::{Profile, TokenScope, TokenStore};

pub fn run(global: &GlobalArgs, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let store = TokenStore::new(&paths::resolved_data_dir(global));
    match command {
        TokenCommand::List { json } => {
            let tokens = store.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                println!("{:<24} {:<6} {:<21} SEES", "NAME", "SCOPE", "CREATED");
                for t in &tokens {
                    let sees = match &t.profile {
                        Some(profile) => profile.to_string(),
                        None => "everything".to_string(),
                    };
                    println!("{:<24} {:<6} {:<21} {sees}", t.name, t.scope, t.created_at);
                }
                println!("{} tokens in {}", tokens.len(), store.path().display());
            }
        }
        TokenCommand::Create {
            name,
            scope,
            servers,
            tools,
        } => {
            let scope: TokenScope = scope.parse().map_err(anyhow::Error::msg)?;
            let profile =
                Profile::new(servers, tools).map_err(|e| anyhow::anyhow!("token {name:?}: {e}"))?;
            let sees = match &profile {
                Some(profile) => format!("; sees {profile}"),
                None => String::new(),
            };
            let token = store.create(&name, scope, profile)?;
            // The token alone on stdout, for `$(mcpproxy token create ...)`; the advice on stderr.
            println!("{token}");
            eprintln!(
                "token {name:?} (scope {scope}{sees}) created; it is not shown again. \
                 Clients send it as `Authorization: Bearer <token>`."
            );
        }
        TokenCommand::Revoke { name } => {
            let entry = store.revoke(&name)?;
            eprintln!(
                "token {:?} (scope {}) revoked: requests with it are refused from now on",
                entry.name, entry.scope
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
