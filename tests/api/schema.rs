//! The two migration sets stay in lockstep: the same versions and names in
//! `migrations/sqlite` and `migrations/postgres`, and, on a run with PostgreSQL, the same
//! tables, columns (type family, nullability, primary key) and named indexes on both engines.

use crate::helpers::test_database_url;
use std::collections::BTreeMap;

fn migration_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("{}/{dir}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
        })
        .collect();
    names.sort();
    names
}

/// table -> column -> (type family, not null, part of the primary key); and the index names.
type Schema = (
    BTreeMap<String, BTreeMap<String, (String, bool, bool)>>,
    Vec<String>,
);

fn family(declared: &str) -> String {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") {
        "integer".into()
    } else if t.contains("text") || t.contains("char") {
        "text".into()
    } else {
        t
    }
}

async fn sqlite_schema(pool: &portcullis::bootstrap::Pool) -> Schema {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = BTreeMap::new();
    for table in tables {
        let cols: Vec<(String, String, i64, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\", pk FROM pragma_table_info($1)")
                .bind(&table)
                .fetch_all(pool)
                .await
                .unwrap();
        schema.insert(
            table,
            cols.into_iter()
                .map(|(name, ty, notnull, pk)| {
                    (name, (family(&ty), notnull == 1 || pk > 0, pk > 0))
                })
                .collect(),
        );
    }
    let indexes = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    (schema, indexes)
}

async fn postgres_schema(pool: &portcullis::bootstrap::Pool) -> Schema {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = BTreeMap::new();
    for table in tables {
        let cols: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        let pk: Vec<String> = sqlx::query_scalar(
            "SELECT k.column_name::text FROM information_schema.table_constraints c \
             JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name AND k.table_name = c.table_name \
             WHERE c.table_schema = 'public' AND c.table_name = $1 AND c.constraint_type = 'PRIMARY KEY'",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        schema.insert(
            table,
            cols.into_iter()
                .map(|(name, ty, nullable)| {
                    let is_pk = pk.contains(&name);
                    (name, (family(&ty), nullable == "NO", is_pk))
                })
                .collect(),
        );
    }
    // Indexes PostgreSQL makes for primary keys and UNIQUE columns are SQLite's autoindexes.
    let indexes = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' \
         AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u')) ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    (schema, indexes)
}

#[tokio::test]
async fn both_engines_have_the_same_migrations_and_on_postgresql_the_same_schema() {
    let sqlite = migration_names("migrations/sqlite");
    assert!(sqlite.len() >= 9);
    assert_eq!(sqlite, migration_names("migrations/postgres"));

    let Some(pg_url) = test_database_url().await else {
        // The SQLite pass of scripts/test; the PostgreSQL pass compares the live schemas.
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lite = portcullis::bootstrap::connect(
        &format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display()),
        1,
    )
    .await
    .unwrap();
    portcullis::bootstrap::migrate_pool(&lite).await.unwrap();
    let pg = portcullis::bootstrap::connect(&pg_url, 1).await.unwrap();
    portcullis::bootstrap::migrate_pool(&pg).await.unwrap();
    let (lite_tables, lite_indexes) = sqlite_schema(&lite).await;
    let (pg_tables, pg_indexes) = postgres_schema(&pg).await;
    assert_eq!(
        lite_tables.keys().collect::<Vec<_>>(),
        pg_tables.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, columns) in &lite_tables {
        assert_eq!(columns, &pg_tables[table], "columns of {table}");
    }
    assert_eq!(lite_indexes, pg_indexes, "the same named indexes");
}
