//! The Postgres pool, configured for RDS Proxy, and the embedded migrations.
//!
//! - Lazy: building the pool opens no connection, so a cold start costs nothing until the first query.
//! - Small: one connection per HTTP Lambda by default; RDS Proxy multiplexes them.
//! - No session state: connections are recycled without any SQL (no `DISCARD ALL`, no `SET`), and
//!   repositories use `query_typed` (unnamed statements, one round trip) rather than prepared
//!   statements, so the proxy never has to pin a client to a database connection.
//! - TLS with rustls when the URL says `sslmode=require`; an IAM auth token made fresh for every new
//!   connection when `DATABASE_IAM_AUTH` is on.

mod burst;
mod iam;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures::future::BoxFuture;
use tokio_postgres::config::SslMode;
use tokio_postgres::NoTls;

use crate::config::DatabaseConfig;

pub use burst::Burst;
pub use deadpool_postgres::{Object as Connection, Transaction};
pub use tokio_postgres::{Client, GenericClient};

// Only what applies migrations (the deploy hook, the CLI, the test kit) carries them.
#[cfg(feature = "migrations")]
mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// A database error with what we were doing when it happened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database is not configured: set DATABASE_URL")]
    NotConfigured,
    #[error("could not get a database connection")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database query failed")]
    Query(#[from] tokio_postgres::Error),
    #[error("applying migrations failed")]
    Migrate(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("invalid database configuration: {0}")]
    Config(String),
}

impl DbError {
    /// The SQLSTATE code of a server-side error, e.g. `23505` for a unique violation.
    pub fn sql_state(&self) -> Option<&str> {
        match self {
            DbError::Query(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }

    /// The name of the violated constraint, if this is a constraint violation.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            DbError::Query(e) => e.as_db_error().and_then(|d| d.constraint()),
            _ => None,
        }
    }
}

/// The shared handle every repository call goes through. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("status", &self.pool.status())
            .finish()
    }
}

impl Db {
    /// Builds the pool without connecting.
    pub fn connect_lazy(config: &DatabaseConfig) -> Result<Self, DbError> {
        let url = config.url.as_ref().ok_or(DbError::NotConfigured)?;
        let mut pg: tokio_postgres::Config = url
            .expose()
            .parse()
            .map_err(|_| DbError::Config("DATABASE_URL is not a valid postgres:// URL".into()))?;
        pg.connect_timeout(Duration::from_secs(5));
        if pg.get_application_name().is_none() {
            pg.application_name("dream-photo");
        }
        let tls = match pg.get_ssl_mode() {
            SslMode::Disable | SslMode::Prefer => None,
            _ => Some(rustls_connector()),
        };
        if tls.is_some() {
            // tokio-postgres negotiates TLS itself once it has a connector; `require` makes it mandatory.
            pg.ssl_mode(SslMode::Require);
        }
        let iam = if config.iam_auth {
            let region = config
                .aws_region
                .clone()
                .ok_or_else(|| DbError::Config("DATABASE_IAM_AUTH needs AWS_REGION".into()))?;
            Some(Arc::new(iam::TokenSigner::new(region)))
        } else {
            None
        };
        let manager = Manager::from_connect(
            pg,
            Connector { tls, iam },
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| DbError::Config(e.to_string()))?;
        Ok(Self { pool })
    }

    /// A pooled connection (opened on first use).
    pub async fn conn(&self) -> Result<Connection, DbError> {
        Ok(self.pool.get().await?)
    }

    /// Applies the embedded migrations that have not been applied yet.
    #[cfg(feature = "migrations")]
    pub async fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.conn().await?;
        let client: &mut Client = &mut conn;
        let report = embedded::migrations::runner()
            .run_async(client)
            .await
            .map_err(|e| DbError::Migrate(Box::new(e)))?;
        Ok(report.applied_migrations().len())
    }

    /// One round trip to the database, for `/health`.
    pub async fn ping(&self) -> Result<Duration, DbError> {
        let started = std::time::Instant::now();
        let conn = self.conn().await?;
        conn.query_typed("SELECT 1", &[]).await?;
        Ok(started.elapsed())
    }
}

fn rustls_connector() -> tokio_postgres_rustls::MakeRustlsConnect {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

/// Opens a connection: with TLS when configured, and with a fresh IAM token as the password.
struct Connector {
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    iam: Option<Arc<iam::TokenSigner>>,
}

impl deadpool_postgres::Connect for Connector {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>> {
        let mut pg = pg_config.clone();
        let tls = self.tls.clone();
        let iam = self.iam.clone();
        Box::pin(async move {
            if let Some(signer) = iam {
                let token = signer.token_for(&pg).await;
                match token {
                    Ok(token) => {
                        pg.password(token);
                    }
                    Err(e) => {
                        // Without a token the server rejects us with an auth error, which the caller sees.
                        tracing::error!(error = %e, "could not sign an RDS IAM auth token");
                    }
                }
            }
            match tls {
                Some(tls) => {
                    let (client, connection) = pg.connect(tls).await?;
                    Ok((client, spawn_connection(connection)))
                }
                None => {
                    let (client, connection) = pg.connect(NoTls).await?;
                    Ok((client, spawn_connection(connection)))
                }
            }
        })
    }
}

fn spawn_connection<F>(connection: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "database connection closed with an error");
        }
    })
}
