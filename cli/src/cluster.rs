//! The private PostgreSQL cluster under `.data/` that `serve` and the operator commands use when
//! `DATABASE_URL` is unset: started (or reused) here, in one place.

use local_cluster::{usable_data_dir, ClusterOptions, LocalCluster};

/// The port of the private cluster under `.data/` (fixed, so a second `serve` reuses it).
pub const LOCAL_PG_PORT: u16 = 54329;
pub const LOCAL_DB: &str = "dream_photo";

/// Starts (or reuses) the private cluster and makes sure our database exists. Returns the cluster
/// handle (to stop it if we started it) and the database URL.
pub async fn local_database(
    data_dir: &std::path::Path,
    port: u16,
) -> Result<(LocalCluster, String), Box<dyn std::error::Error>> {
    let dir = usable_data_dir(data_dir)?;
    if dir != std::path::absolute(data_dir)? {
        tracing::info!(data_dir = %dir.display(), "the postgres user cannot reach .data/ here; using this directory instead");
    }
    let options = ClusterOptions {
        data_dir: dir,
        port,
        ephemeral: false,
    };
    let cluster = tokio::task::spawn_blocking(move || LocalCluster::start(&options)).await??;
    let (client, conn) = tokio_postgres_connect(&cluster.url("postgres")).await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&LOCAL_DB])
        .await?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {LOCAL_DB}"))
            .await?;
    }
    drop(client);
    let _ = conn.await;
    let url = cluster.url(LOCAL_DB);
    Ok((cluster, url))
}

async fn tokio_postgres_connect(
    url: &str,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let handle = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, handle))
}
