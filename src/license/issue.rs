//! Issuing licences: from a typed request (tests, benches, other code) or from the admin's
//! form, whose fields are validated here so every message about them is written once.

use super::{KEY_CONTEXT, Licenses, compose_key, key_hash};
use crate::db;
use crate::domain::{Action, Actor, AdminId};

/// Why a licence could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("there is no product {0}")]
    NoProduct(i64),
    /// The account's owner has not confirmed their email address (issue 18, item 8).
    #[error(
        "Client account {client_id}: its owner{} has not confirmed their email address yet, and \
         licences are issued only to confirmed accounts. Ask them to confirm it first (their \
         client area sends the link again), then issue the licence.",
        if email.is_empty() { String::new() } else { format!(" {email}") }
    )]
    OwnerUnconfirmed { client_id: i64, email: String },
    /// A form field that cannot be used; the message names it.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error("{0}")]
    Other(#[from] anyhow::Error),
}

/// What an admin asks for.
#[derive(Debug, Clone, Default)]
pub struct IssueRequest {
    pub product_id: i64,
    pub client_id: i64,
    pub expires_at: Option<i64>,
    pub domains: Vec<String>,
    pub ips: Vec<String>,
    pub directories: Vec<String>,
}

/// The issue form as typed: lists one entry per line, the expiry a day or empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct IssueDraft<'a> {
    pub product_id: &'a str,
    pub client_id: &'a str,
    pub expires: &'a str,
    pub domains: &'a str,
    pub ips: &'a str,
    pub directories: &'a str,
}

/// One line per entry, trimmed, at most 50 entries of 255 characters.
fn entries(text: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if list.len() > 50 || list.iter().any(|l| l.len() > 255) {
        return Err("at most 50 entries of 255 characters, one per line".into());
    }
    Ok(list)
}

impl Licenses {
    /// Issues a licence; returns its id and the key (shown once to the admin, and to the owner).
    /// Not audited: [`Licenses::issue_by_admin`] is the audited form.
    ///
    /// # Errors
    /// Unknown product, an owner who has not confirmed their address, storage, randomness or
    /// sealing failures.
    pub async fn issue(&self, req: &IssueRequest) -> Result<(i64, String), IssueError> {
        let product = self.product_of(req).await?;
        self.owner_must_be_confirmed(req.client_id).await?;
        self.insert(&self.db, &product, req).await
    }

    /// Refuses an account whose owner has not confirmed their email address
    /// ([`Licenses::owner_confirmed`]).
    async fn owner_must_be_confirmed(&self, client_id: i64) -> Result<(), IssueError> {
        self.owner_confirmed(client_id)
            .await?
            .map_err(|u| IssueError::OwnerUnconfirmed {
                client_id,
                email: u.email,
            })
    }

    async fn product_of(&self, req: &IssueRequest) -> Result<super::Product, IssueError> {
        db::license::find_product(&self.db, req.product_id)
            .await?
            .ok_or(IssueError::NoProduct(req.product_id))
    }

    /// Stores a new licence of `product` with `ex`. The product is read before any transaction
    /// begins, so a transaction writes first and never upgrades a read lock (which SQLite may
    /// refuse under concurrent writes).
    async fn insert<'e>(
        &self,
        ex: impl sqlx::Executor<'e, Database = db::Db>,
        product: &super::Product,
        req: &IssueRequest,
    ) -> Result<(i64, String), IssueError> {
        let canonical = compose_key(&product.key_prefix)?;
        let sealed = self.sealing.seal(canonical.as_bytes(), KEY_CONTEXT)?;
        let hint = canonical.rsplit('-').nth(1).unwrap_or_default().to_owned();
        let id = db::license::insert(
            ex,
            &db::license::NewLicense {
                product_id: product.id,
                client_id: req.client_id,
                key_hash: &key_hash(&canonical),
                key_sealed: &sealed,
                key_hint: &hint,
                expires_at: req.expires_at,
                domains: &req.domains,
                ips: &req.ips,
                directories: &req.directories,
            },
            self.clock.unix(),
        )
        .await?;
        Ok((id, canonical))
    }

    /// Validates the admin's form, issues the licence and audits it; returns the licence's id.
    ///
    /// # Errors
    /// `Invalid` naming the field (the account must exist), `NoProduct`, as [`Licenses::issue`].
    pub async fn issue_by_admin(
        &self,
        admin: AdminId,
        draft: &IssueDraft<'_>,
    ) -> Result<i64, IssueError> {
        let request = self.request(draft).await.map_err(IssueError::Invalid)?;
        let product = self.product_of(&request).await?;
        self.owner_must_be_confirmed(request.client_id).await?;
        let mut tx = self.db.begin().await?;
        let (id, _key) = self.insert(&mut *tx, &product, &request).await?;
        self.audit(
            &mut *tx,
            &Actor::Admin(admin),
            Action::LicenseIssued,
            &format!("license:{id}"),
            &format!(
                "product {} for client account {}",
                request.product_id, request.client_id
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The typed request of a form, or the message about its first wrong field.
    async fn request(&self, form: &IssueDraft<'_>) -> Result<IssueRequest, String> {
        let product_id = form
            .product_id
            .trim()
            .parse::<i64>()
            .map_err(|_| "Choose a product.".to_owned())?;
        let client_id = form.client_id.trim().parse::<i64>().map_err(|_| {
            format!(
                "Client account: {:?} is not an account number.",
                form.client_id
            )
        })?;
        // A lookup that fails reads as a missing account: the admin checks the number again.
        if db::client::find(&self.db, client_id)
            .await
            .ok()
            .flatten()
            .is_none()
        {
            return Err(format!("Client account {client_id} does not exist."));
        }
        Ok(IssueRequest {
            product_id,
            client_id,
            expires_at: self.end_of_day(form.expires)?,
            domains: entries(form.domains).map_err(|e| format!("Domains: {e}"))?,
            ips: entries(form.ips).map_err(|e| format!("IP addresses: {e}"))?,
            directories: entries(form.directories).map_err(|e| format!("Directories: {e}"))?,
        })
    }
}
