//! Security keys and passkeys (WebAuthn) as a second factor.
//!
//! A signed-in user registers keys; sign-in asks for one after the password. This module is a
//! thin layer over webauthn-rs: it builds the relying party from the System URL, derives the
//! user handle, carries each ceremony's state as an opaque JSON string for the caller to store
//! server-side, and turns the library's errors into messages a person can act on. It knows
//! nothing about HTTP or storage.
//!
//! # Ceremonies
//!
//! Registration: [`start_registration`] returns the options for the browser and the state;
//! the caller keeps the state (in the session or a table, never in the browser), and on the
//! browser's answer calls [`finish_registration`], then stores the [`Passkey`] (it serialises
//! with serde) under [`credential_id_b64`]. Authentication is the same pair with
//! [`start_authentication`] / [`finish_authentication`]; when the result `needs_update()`, apply
//! it with [`Passkey::update_credential`] and store the key again, or the counter that detects
//! a copied key stops working.
//!
//! The caller must:
//! - use each state once: delete it when the answer arrives, whatever the outcome. The state
//!   holds a snapshot of the keys, so a kept state would accept the same answer twice.
//! - refuse a new key whose credential id is already stored for any account (a unique index on
//!   the id): webauthn-rs only excludes the keys passed to [`start_registration`].
//!
//! # Why passkey ceremonies, even as a second factor
//!
//! webauthn-rs offers "security key" ceremonies meant to accompany a password and "passkey"
//! ceremonies meant to stand alone. We use the passkey ceremonies unchanged: they require user
//! verification (PIN, fingerprint or face) at registration and at every use, where the
//! security-key ceremonies only prefer it. That costs a PIN prompt on keys that have one (and
//! asks the owner of a key without one to set it), and buys a factor that holds on its own:
//! a stolen key is useless without its PIN, and phones, laptops and password managers, which
//! always verify the user, work the same way as hardware keys. The stored type follows the
//! ceremony ([`Passkey`], not `SecurityKey`), so this choice is made once, here.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    PasskeyAuthentication, PasskeyRegistration, WebauthnBuilder, WebauthnError,
};

pub use webauthn_rs::Webauthn;
pub use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Passkey, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Uuid,
};

/// The relying party name browsers and authenticators may show next to the key.
const RP_NAME: &str = "Portcullis";

/// Why a ceremony failed, worded for the person holding the key. The library's own reason is
/// kept as the source of [`Error::Rejected`] for logs, never in the message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The System URL cannot anchor WebAuthn credentials (an administrator's problem).
    #[error(
        "Security keys need the System URL to use a domain name (not an IP address) over https, \
         or http://localhost."
    )]
    UnsuitableSystemUrl,
    /// webauthn-rs refuses an empty user name.
    #[error("This account needs a name before a security key can be added.")]
    MissingName,
    /// Authentication was asked for an account without keys.
    #[error("No security key is registered for this account.")]
    NoKeys,
    /// The stored state is missing, unreadable or from an older version.
    #[error("This security key request has expired or was already used; start again.")]
    Expired,
    /// The key is one of the account's keys already.
    #[error("This security key is already registered.")]
    AlreadyRegistered,
    /// The answer belongs to another ceremony (an old tab, a replay) or another operation.
    #[error("The security key's answer did not match the challenge; try again.")]
    ChallengeMismatch,
    /// The browser was on another origin than the System URL's (or the key answered for
    /// another site).
    #[error(
        "The security key answered for a different web address; open this site at its usual \
         address and try again."
    )]
    WrongOrigin,
    /// The key did not report user verification (no PIN or biometric check).
    #[error(
        "The security key did not confirm it was you (PIN, fingerprint or face); try again and \
         complete the check on the key."
    )]
    NotVerified,
    /// The answer came from a key this account has not registered.
    #[error("This security key is not registered to this account; use one you added.")]
    UnknownKey,
    /// The key's use counter did not increase: the key may have been copied.
    #[error(
        "This security key's use counter went backwards, which can mean it was copied; use \
         another key or contact support."
    )]
    PossiblyCopied,
    /// The key's backup eligibility changed, which the library treats as a new device.
    #[error("This security key has changed since it was added; remove it and add it again.")]
    ChangedKey,
    /// Any other refusal (bad signature, malformed answer, unsupported algorithm).
    #[error("The security key's answer could not be verified; try again or use another key.")]
    Rejected(#[source] WebauthnError),
    /// The ceremony state could not be written (should not happen).
    #[error("Security keys are unavailable right now; try again later.")]
    Unavailable,
}

impl From<WebauthnError> for Error {
    fn from(error: WebauthnError) -> Self {
        match error {
            WebauthnError::MismatchedChallenge
            | WebauthnError::ChallengeNotFound
            | WebauthnError::InvalidClientDataType => Self::ChallengeMismatch,
            WebauthnError::InvalidRPOrigin
            | WebauthnError::InvalidRPIDHash
            | WebauthnError::CredentialCrossOrigin => Self::WrongOrigin,
            WebauthnError::UserNotPresent | WebauthnError::UserNotVerified => Self::NotVerified,
            WebauthnError::CredentialNotFound => Self::UnknownKey,
            WebauthnError::CredentialPossibleCompromise => Self::PossiblyCopied,
            WebauthnError::CredentialBackupEligibilityInconsistent => Self::ChangedKey,
            WebauthnError::InvalidUsername => Self::MissingName,
            other => Self::Rejected(other),
        }
    }
}

/// What the registration state string holds: the library's state plus the ids that were
/// excluded, because webauthn-rs reports an excluded key as `CredentialAlteredAlgFromRequest`
/// and only this list lets us say "already registered" instead.
#[derive(Serialize, Deserialize)]
struct RegistrationCeremony {
    state: PasskeyRegistration,
    existing: Vec<String>,
}

/// The relying party for the System URL: rp id = its host, allowed origin = its origin (scheme,
/// host, port; the path is ignored), name "Portcullis".
///
/// Credentials are bound to the rp id forever: changing the System URL's host makes every
/// registered key unusable, so a change of host deserves a warning wherever it is made.
pub fn relying_party(system_url: &url::Url) -> Result<Webauthn, Error> {
    // Browsers offer WebAuthn only in secure contexts and only for domain names, so an IP
    // address or plain http elsewhere than localhost would fail later, in every browser, with
    // a less useful message.
    let host = system_url.domain().ok_or(Error::UnsuitableSystemUrl)?;
    let secure = match system_url.scheme() {
        "https" => true,
        "http" => host == "localhost",
        _ => false,
    };
    if !secure {
        return Err(Error::UnsuitableSystemUrl);
    }
    let origin = url::Url::parse(&system_url.origin().ascii_serialization())
        .map_err(|_| Error::UnsuitableSystemUrl)?;
    WebauthnBuilder::new(host, &origin)
        .and_then(|builder| builder.rp_name(RP_NAME).build())
        .map_err(|_| Error::UnsuitableSystemUrl)
}

/// The WebAuthn user handle of (realm, subject id): the first 16 bytes of
/// SHA-256("portcullis:{realm}:{id}"). Derived, so it never needs storing and stays the same
/// for every key of the subject; the realm keeps an admin and a client with the same id apart.
/// It is opaque bytes to browsers, so its UUID version bits mean nothing.
pub fn user_handle(realm: &str, subject_id: i64) -> Uuid {
    let digest = Sha256::digest(format!("portcullis:{realm}:{subject_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// Starts registering a new key for the subject. `existing` are the subject's keys: browsers
/// refuse to register one of them again. `username` is what authenticators list (e.g. the
/// email address); an empty `display_name` falls back to it.
///
/// Returns the options to send to the browser as JSON and the state to keep server-side.
pub fn start_registration(
    rp: &Webauthn,
    handle: Uuid,
    username: &str,
    display_name: &str,
    existing: &[Passkey],
) -> Result<(CreationChallengeResponse, String), Error> {
    let display_name = if display_name.trim().is_empty() {
        username
    } else {
        display_name
    };
    let exclude: Vec<_> = existing.iter().map(|key| key.cred_id().clone()).collect();
    let ids = existing.iter().map(credential_id_b64).collect();
    let (options, state) = rp.start_passkey_registration(
        handle,
        username,
        display_name,
        // No list rather than an empty one keeps the options minimal for a first key.
        (!exclude.is_empty()).then_some(exclude),
    )?;
    let state = serde_json::to_string(&RegistrationCeremony {
        state,
        existing: ids,
    })
    .map_err(|_| Error::Unavailable)?;
    Ok((options, state))
}

/// Finishes a registration: verifies the browser's answer against the stored state and returns
/// the key to store.
pub fn finish_registration(
    rp: &Webauthn,
    state_json: &str,
    credential: &RegisterPublicKeyCredential,
) -> Result<Passkey, Error> {
    let ceremony: RegistrationCeremony =
        serde_json::from_str(state_json).map_err(|_| Error::Expired)?;
    rp.finish_passkey_registration(credential, &ceremony.state)
        .map_err(|error| {
            let excluded = matches!(
                error,
                WebauthnError::CredentialAlteredAlgFromRequest
                    | WebauthnError::CredentialExcludedFromRequest
            );
            let raw_id = URL_SAFE_NO_PAD.encode(&credential.raw_id);
            if excluded && ceremony.existing.contains(&raw_id) {
                Error::AlreadyRegistered
            } else {
                error.into()
            }
        })
}

/// Starts an authentication with one of `keys` (the subject's registered keys). Returns the
/// options to send to the browser as JSON and the state to keep server-side.
pub fn start_authentication(
    rp: &Webauthn,
    keys: &[Passkey],
) -> Result<(RequestChallengeResponse, String), Error> {
    // An empty list would start a discoverable ("any key you have") ceremony, which is not
    // what a second factor for a known subject means.
    if keys.is_empty() {
        return Err(Error::NoKeys);
    }
    let (options, state) = rp.start_passkey_authentication(keys)?;
    let state = serde_json::to_string(&state).map_err(|_| Error::Unavailable)?;
    Ok((options, state))
}

/// Verifies the browser's answer against the stored state. The result names the key used
/// (`cred_id()`, compare with [`credential_id_b64`]) and whether its stored counter or backup
/// state must be updated (`needs_update()`; apply with [`Passkey::update_credential`]).
pub fn finish_authentication(
    rp: &Webauthn,
    state_json: &str,
    credential: &PublicKeyCredential,
) -> Result<AuthenticationResult, Error> {
    let state: PasskeyAuthentication =
        serde_json::from_str(state_json).map_err(|_| Error::Expired)?;
    Ok(rp.finish_passkey_authentication(credential, &state)?)
}

/// The key's credential id as unpadded base64url: the form browsers send as `id`, for storage
/// and lookup.
pub fn credential_id_b64(key: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode(key.cred_id())
}

/// A credential id from an [`AuthenticationResult`] in the same form as [`credential_id_b64`].
pub fn result_credential_id_b64(result: &AuthenticationResult) -> String {
    URL_SAFE_NO_PAD.encode(result.cred_id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;
    use webauthn_authenticator_rs::WebauthnAuthenticator;
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;

    const SYSTEM_URL: &str = "https://portal.example.com/";
    const ORIGIN: &str = "https://portal.example.com";

    fn rp() -> Webauthn {
        relying_party(&Url::parse(SYSTEM_URL).unwrap()).unwrap()
    }

    /// A software key. `true` makes it report user verification, which passkey ceremonies
    /// require (it has no PIN to check).
    fn soft_key() -> SoftPasskey {
        SoftPasskey::new(true)
    }

    fn register(
        rp: &Webauthn,
        key: &mut SoftPasskey,
        origin: &str,
        existing: &[Passkey],
    ) -> Result<Passkey, Error> {
        let (options, state) = start_registration(
            rp,
            user_handle("client", 7),
            "ada@example.com",
            "Ada Lovelace",
            existing,
        )?;
        let answer = key
            .do_registration(Url::parse(origin).unwrap(), options)
            .expect("the soft key answers");
        finish_registration(rp, &state, &answer)
    }

    fn authenticate(
        rp: &Webauthn,
        key: &mut SoftPasskey,
        origin: &str,
        keys: &[Passkey],
    ) -> Result<AuthenticationResult, Error> {
        let (options, state) = start_authentication(rp, keys)?;
        let answer = key
            .do_authentication(Url::parse(origin).unwrap(), options)
            .expect("the soft key answers");
        finish_authentication(rp, &state, &answer)
    }

    #[test]
    fn a_registered_key_authenticates_and_its_counter_is_kept() {
        let rp = rp();
        let mut key = soft_key();
        let passkey = register(&rp, &mut key, ORIGIN, &[]).unwrap();

        // Stored and loaded as the caller will.
        let mut stored: Passkey =
            serde_json::from_str(&serde_json::to_string(&passkey).unwrap()).unwrap();

        let result = authenticate(&rp, &mut key, ORIGIN, std::slice::from_ref(&stored)).unwrap();
        assert_eq!(
            result_credential_id_b64(&result),
            credential_id_b64(&stored)
        );
        assert!(result.user_verified());
        // The soft key counts its uses, so the first use must be written back.
        assert!(result.needs_update());
        assert_eq!(stored.update_credential(&result), Some(true));

        let again = authenticate(&rp, &mut key, ORIGIN, std::slice::from_ref(&stored)).unwrap();
        assert!(again.counter() > result.counter());
    }

    #[test]
    fn a_key_that_is_not_registered_is_refused() {
        let rp = rp();
        let mut ours = soft_key();
        let mut theirs = soft_key();
        let our_key = register(&rp, &mut ours, ORIGIN, &[]).unwrap();
        let their_key = register(&rp, &mut theirs, ORIGIN, &[]).unwrap();

        // Our ceremony, answered by another key: the browser is told to allow it, the server is not.
        let (mut options, state) = start_authentication(&rp, &[our_key]).unwrap();
        let (their_options, _) = start_authentication(&rp, &[their_key]).unwrap();
        options.public_key.allow_credentials = their_options.public_key.allow_credentials;
        let answer = theirs
            .do_authentication(Url::parse(ORIGIN).unwrap(), options)
            .unwrap();
        let error = finish_authentication(&rp, &state, &answer).unwrap_err();
        assert!(matches!(error, Error::UnknownKey), "{error:?}");
        assert!(error.to_string().contains("not registered"));
    }

    #[test]
    fn an_answer_from_another_origin_is_refused() {
        let rp = rp();
        let mut key = soft_key();
        // A subdomain: the key accepts it (the rp id is a suffix), the server must not.
        let elsewhere = "https://evil.portal.example.com";

        let error = register(&rp, &mut key, elsewhere, &[]).unwrap_err();
        assert!(matches!(error, Error::WrongOrigin), "{error:?}");

        let passkey = register(&rp, &mut key, ORIGIN, &[]).unwrap();
        let error = authenticate(&rp, &mut key, elsewhere, &[passkey]).unwrap_err();
        assert!(matches!(error, Error::WrongOrigin), "{error:?}");
    }

    #[test]
    fn an_answer_to_another_challenge_is_refused() {
        let rp = rp();
        let mut key = soft_key();
        let passkey = register(&rp, &mut key, ORIGIN, &[]).unwrap();
        let keys = [passkey];

        let (_, first_state) = start_authentication(&rp, &keys).unwrap();
        let (second_options, _) = start_authentication(&rp, &keys).unwrap();
        let answer = key
            .do_authentication(Url::parse(ORIGIN).unwrap(), second_options)
            .unwrap();
        let error = finish_authentication(&rp, &first_state, &answer).unwrap_err();
        assert!(matches!(error, Error::ChallengeMismatch), "{error:?}");
        assert_eq!(
            error.to_string(),
            "The security key's answer did not match the challenge; try again."
        );
    }

    #[test]
    fn registration_excludes_the_subjects_keys() {
        let rp = rp();
        let mut key = soft_key();
        let passkey = register(&rp, &mut key, ORIGIN, &[]).unwrap();

        let (options, state) = start_registration(
            &rp,
            user_handle("client", 7),
            "ada",
            "",
            std::slice::from_ref(&passkey),
        )
        .unwrap();
        let json = serde_json::to_value(&options).unwrap();
        let excluded = &json["publicKey"]["excludeCredentials"];
        assert_eq!(excluded[0]["id"], credential_id_b64(&passkey));
        // The empty display name fell back to the user name.
        assert_eq!(json["publicKey"]["user"]["displayName"], "ada");
        assert!(state.contains(&credential_id_b64(&passkey)));

        let (first, _) = start_registration(&rp, user_handle("client", 7), "ada", "", &[]).unwrap();
        let json = serde_json::to_value(&first).unwrap();
        assert!(json["publicKey"].get("excludeCredentials").is_none());
    }

    #[test]
    fn options_carry_the_relying_party_and_require_verification() {
        let rp = rp();
        let (options, _) =
            start_registration(&rp, user_handle("admin", 1), "root", "Root", &[]).unwrap();
        let json = serde_json::to_value(&options).unwrap();
        assert_eq!(json["publicKey"]["rp"]["id"], "portal.example.com");
        assert_eq!(json["publicKey"]["rp"]["name"], "Portcullis");
        assert_eq!(
            json["publicKey"]["authenticatorSelection"]["userVerification"],
            "required"
        );
        assert_eq!(
            json["publicKey"]["user"]["id"],
            URL_SAFE_NO_PAD.encode(user_handle("admin", 1).as_bytes())
        );
    }

    #[test]
    fn relying_party_follows_the_system_url() {
        let rp = relying_party(&Url::parse("https://portal.example.com:8443/billing/").unwrap())
            .unwrap();
        assert_eq!(
            rp.get_allowed_origins()
                .iter()
                .map(Url::as_str)
                .collect::<Vec<_>>(),
            ["https://portal.example.com:8443/"]
        );
        assert!(relying_party(&Url::parse("http://localhost:8080/").unwrap()).is_ok());
        for unsuitable in [
            "https://127.0.0.1/",
            "http://[::1]:8080/",
            "http://portal.example.com/",
        ] {
            let error = relying_party(&Url::parse(unsuitable).unwrap()).unwrap_err();
            assert!(matches!(error, Error::UnsuitableSystemUrl), "{unsuitable}");
        }
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle("client", 7), user_handle("client", 7));
        assert_ne!(user_handle("client", 7), user_handle("admin", 7));
        assert_ne!(user_handle("client", 7), user_handle("client", 8));
    }

    #[test]
    fn unusable_requests_are_explained() {
        let rp = rp();
        assert!(matches!(
            start_authentication(&rp, &[]).unwrap_err(),
            Error::NoKeys
        ));
        assert!(matches!(
            start_registration(&rp, user_handle("client", 7), "", "", &[]).unwrap_err(),
            Error::MissingName
        ));

        let mut key = soft_key();
        let passkey = register(&rp, &mut key, ORIGIN, &[]).unwrap();
        let (options, _) = start_authentication(&rp, &[passkey]).unwrap();
        let answer = key
            .do_authentication(Url::parse(ORIGIN).unwrap(), options)
            .unwrap();
        assert!(matches!(
            finish_authentication(&rp, "not a state", &answer).unwrap_err(),
            Error::Expired
        ));
    }
}
