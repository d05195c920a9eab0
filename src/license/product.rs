//! Products: what licences are issued for, with the check interval, the grace period and the
//! number of reissues their licences get. Validated here, audited as the admin's.

use super::{Licenses, Product};
use crate::db;
use crate::domain::{Action, Actor, AdminId};

/// The defaults the issue (F07) names: a check every 7 days, 3 days' grace; 3 reissues.
const DEFAULT_INTERVAL_DAYS: i64 = 7;
const DEFAULT_GRACE_DAYS: i64 = 3;
const DEFAULT_MAX_REISSUES: i64 = 3;

/// A product form as typed. Empty numbers take the defaults; the key prefix is read only when
/// a product is created (issued keys carry it, so it never changes).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProductDraft<'a> {
    pub name: &'a str,
    pub key_prefix: &'a str,
    pub check_interval_days: &'a str,
    pub grace_days: &'a str,
    pub max_reissues: &'a str,
}

/// Why a product was not saved.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// A field that cannot be used; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// A new product's name or key prefix is taken.
    #[error("A product with this name or key prefix exists already.")]
    Exists,
    /// An edited product's new name is another product's; carries the product as typed.
    #[error("Another product is called {:?}.", .0.name)]
    NameTaken(Box<Product>),
    #[error("no such product")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

fn number(
    field: &str,
    text: &str,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> Result<i64, String> {
    if text.trim().is_empty() {
        return Ok(default);
    }
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "{field}: {text:?} is not a whole number from {} to {}.",
                range.start(),
                range.end()
            )
        })
}

impl ProductDraft<'_> {
    /// The validated fields other than the key prefix.
    fn product(&self, id: i64, key_prefix: String) -> Result<Product, String> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err("Name: 1 to 100 characters.".to_owned());
        }
        Ok(Product {
            id,
            name: name.to_owned(),
            key_prefix,
            check_interval_days: number(
                "Check interval",
                self.check_interval_days,
                1..=365,
                DEFAULT_INTERVAL_DAYS,
            )?,
            grace_days: number("Grace period", self.grace_days, 0..=90, DEFAULT_GRACE_DAYS)?,
            max_reissues: number(
                "Maximum reissues",
                self.max_reissues,
                0..=1000,
                DEFAULT_MAX_REISSUES,
            )?,
        })
    }

    /// A new product: the key prefix (2 to 10 letters or digits, upper-cased) and the rest.
    fn new_product(&self) -> Result<Product, String> {
        let prefix = self.key_prefix.trim().to_ascii_uppercase();
        if !(2..=10).contains(&prefix.len())
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(format!(
                "Key prefix: {prefix:?} must be 2 to 10 letters A-Z or digits."
            ));
        }
        self.product(0, prefix)
    }
}

fn describe(p: &Product) -> String {
    format!(
        "{}: check every {} days, {} days' grace, at most {} reissues",
        p.name, p.check_interval_days, p.grace_days, p.max_reissues
    )
}

impl Licenses {
    /// One product.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn product(&self, id: i64) -> Result<Option<Product>, sqlx::Error> {
        db::license::find_product(&self.db, id).await
    }

    /// Adds a product; returns its id.
    ///
    /// # Errors
    /// `Invalid` naming the field, `Exists` for a taken name or prefix, storage errors.
    pub async fn create_product(
        &self,
        admin: AdminId,
        draft: &ProductDraft<'_>,
    ) -> Result<i64, ProductError> {
        let product = draft.new_product().map_err(ProductError::Invalid)?;
        let mut tx = self.db.begin().await?;
        let id = db::license::insert_product(&mut *tx, &product, self.clock.unix())
            .await
            .map_err(|e| {
                if db::account::is_unique_violation(&e) {
                    ProductError::Exists
                } else {
                    e.into()
                }
            })?;
        self.audit(
            &mut *tx,
            &Actor::Admin(admin),
            Action::LicenseProductCreated,
            &format!("product:{id}"),
            &format!("{} (prefix {})", product.name, product.key_prefix),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Saves a product's name, check interval, grace and maximum reissues (the key prefix
    /// stays: issued keys carry it). Takes effect at each licence's next check or reissue.
    ///
    /// # Errors
    /// `NotFound`, `Invalid` naming the field, `NameTaken`, storage errors.
    pub async fn update_product(
        &self,
        admin: AdminId,
        id: i64,
        draft: &ProductDraft<'_>,
    ) -> Result<(), ProductError> {
        let before = self.product(id).await?.ok_or(ProductError::NotFound)?;
        let product = draft
            .product(id, before.key_prefix.clone())
            .map_err(ProductError::Invalid)?;
        let mut tx = self.db.begin().await?;
        match db::license::update_product(&mut *tx, &product).await {
            Ok(true) => {}
            Ok(false) => return Err(ProductError::NotFound),
            Err(e) if db::account::is_unique_violation(&e) => {
                return Err(ProductError::NameTaken(Box::new(product)));
            }
            Err(e) => return Err(e.into()),
        }
        self.audit(
            &mut *tx,
            &Actor::Admin(admin),
            Action::LicenseProductUpdated,
            &format!("product:{id}"),
            &format!("{} (was {})", describe(&product), describe(&before)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
