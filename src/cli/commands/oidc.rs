//! `portcullis oidc keys` and `portcullis oidc rotate-key [--alg ALG] [--now]`: the provider's
//! signing keys, as `oidc::keys::Keys` lists and rotates them (audited there).

use crate::cli::{OidcCommand, Outcome, actor, open_migrated};
use crate::config::Config;
use crate::jose::SigningAlg;
use crate::oidc::keys::{KeyInfo, KeyState, Keys};

/// Runs one `oidc` subcommand.
pub async fn run(config: Config, command: OidcCommand) -> Outcome {
    // Checked before the database is opened, so a typo costs nothing.
    let alg = match &command {
        OidcCommand::RotateKey { alg, .. } => Some(SigningAlg::parse(alg).ok_or_else(|| {
            anyhow::anyhow!("--alg: {alg:?} is not a signing algorithm; use RS256, ES256 or EdDSA")
        })?),
        OidcCommand::Keys => None,
    };
    let state = open_migrated(config).await?;
    let keys = Keys::from(&state);
    let show = |k: &KeyInfo| {
        let when = |at: i64| state.show_time(at);
        let status = match k.state {
            KeyState::Published { signs_from } => {
                format!("published, signs from {}", when(signs_from))
            }
            KeyState::Signing => "signing".to_owned(),
            KeyState::Retired { at } => format!("retired {}", when(at)),
        };
        let listed = if k.published {
            "in the JWKS"
        } else {
            "no longer published"
        };
        println!("{}\t{}\t{status}\t{listed}", k.alg, k.kid);
    };
    match command {
        OidcCommand::Keys => {
            let listed = keys.list().await?;
            if listed.is_empty() {
                println!(
                    "No signing keys yet: the first RS256 key is made when the JWKS is first asked for."
                );
            }
            listed.iter().for_each(show);
        }
        OidcCommand::RotateKey { now, .. } => {
            let alg = alg.expect("parsed above for rotate-key");
            let key = keys.rotate(&actor(), alg, now).await?;
            show(&key);
            if key.state == KeyState::Signing && !now {
                println!(
                    "It is the first {alg} key, so it signs now: nothing had to learn it first."
                );
            } else if now {
                println!(
                    "It signs now. Relying parties that cached the key set refuse tokens until they fetch it again."
                );
            } else {
                println!(
                    "It signs in a day; the key it replaces stays published for a week after that."
                );
            }
        }
    }
    Ok(())
}
