//! A fresh, migrated database per test, in one PostgreSQL cluster per test process.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::cluster::{free_port, process_is_alive, ClusterOptions, LocalCluster};
use shared::config::{DatabaseConfig, Secret};
use shared::db::Db;

/// The migrated database every test database is copied from (one per test process).
fn template_name() -> String {
    format!("dp_template_{}", std::process::id())
}

static CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
static TEMPLATE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// The cluster of this test process, started on first use. `TEST_DATABASE_URL` (a server where we may
/// create databases) skips starting one.
fn cluster_url(database: &str) -> String {
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        let mut cfg: url::Url = url.parse().expect("TEST_DATABASE_URL is a postgres:// URL");
        cfg.set_path(database);
        return cfg.to_string();
    }
    let cluster = CLUSTER.get_or_init(|| {
        let root = std::env::temp_dir().join("dream-photo-test-pg");
        remove_stale_clusters(&root);
        let options = ClusterOptions {
            data_dir: root.join(std::process::id().to_string()),
            port: free_port().expect("a free port"),
            ephemeral: true,
        };
        LocalCluster::start(&options).unwrap_or_else(|e| panic!("test PostgreSQL cluster: {e}"))
    });
    cluster.url(database)
}

/// Data directories of test processes that are gone (their servers died with them).
fn remove_stale_clusters(root: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path: PathBuf = entry.path();
        let Some(pid) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if !process_is_alive(pid) {
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

/// A database of one test.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    pub name: String,
}

/// A fresh database with every migration applied (copied from a template migrated once per process).
pub async fn test_db() -> TestDb {
    test_db_with_pool(16).await
}

pub async fn test_db_with_pool(pool_size: usize) -> TestDb {
    let admin_url = cluster_url("postgres");
    TEMPLATE
        .get_or_init(|| async {
            let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
                .await
                .expect("connect to the test cluster");
            let conn = tokio::spawn(conn);
            for statement in [
                format!("DROP DATABASE IF EXISTS {}", template_name()),
                format!("CREATE DATABASE {}", template_name()),
            ] {
                client
                    .batch_execute(&statement)
                    .await
                    .expect("create the template database");
            }
            drop(client);
            let _ = conn.await;
            let template = Db::connect_lazy(&config_for(&cluster_url(&template_name()), 1))
                .expect("template pool");
            template
                .migrate()
                .await
                .expect("migrations apply to a new database");
        })
        .await;

    let name = format!("test_{}", uuid_like());
    let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    let conn = tokio::spawn(conn);
    // Concurrent copies of one template can collide; a short retry settles it.
    let mut attempt = 0;
    loop {
        match client
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {}",
                template_name()
            ))
            .await
        {
            Ok(()) => break,
            Err(e) if attempt < 20 => {
                attempt += 1;
                tracing::debug!(error = %e, "retrying CREATE DATABASE");
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => panic!("create a test database: {e}"),
        }
    }
    drop(client);
    let _ = conn.await;
    let url = cluster_url(&name);
    let db = Db::connect_lazy(&config_for(&url, pool_size)).expect("test pool");
    TestDb { db, url, name }
}

fn config_for(url: &str, pool_size: usize) -> DatabaseConfig {
    DatabaseConfig {
        url: Some(Secret::new(url)),
        pool_size,
        iam_auth: false,
        aws_region: None,
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    let n: u128 = rand::thread_rng().gen();
    format!("{n:032x}")
}
