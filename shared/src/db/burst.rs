//! A transaction sent in bursts: its `BEGIN` goes out with its first statements, so a transaction of
//! independent statements costs two round trips (the statements, then `COMMIT`) instead of one per
//! statement and two more for `BEGIN` and `COMMIT`; one, when its `COMMIT` goes out with them too
//! ([`Burst::commit_joined`]).

use deadpool_postgres::Object;
use tokio_postgres::Client;

use super::{Connection, DbError};

/// A transaction on a pooled connection, begun by [`Burst::begin`] joined with the statements that
/// follow it (tokio-postgres writes joined queries before it reads any answer), ended by
/// [`Burst::commit`] or [`Burst::rollback`] once the caller has read their answers.
///
/// Dropped before it ended (the caller stopped waiting), it takes its connection out of the pool and
/// closes it: the server rolls the transaction back, and no later user of the pool finds itself
/// inside it.
pub struct Burst {
    conn: Option<Connection>,
}

impl Burst {
    pub fn new(conn: Connection) -> Self {
        Self { conn: Some(conn) }
    }

    /// Where the transaction's statements go.
    pub fn client(&self) -> &Client {
        self.conn
            .as_ref()
            .expect("a burst holds its connection until it ends")
    }

    /// `BEGIN`: join it with the first statements rather than awaiting it alone.
    pub async fn begin(&self) -> Result<(), DbError> {
        Ok(self.client().batch_execute("BEGIN").await?)
    }

    /// `COMMIT` sent with the statements (joined last, after all of them): the server commits if
    /// none of them failed, and rolls back if any did (it answers the `COMMIT` of a failed
    /// transaction with a rollback, not an error). So the transaction is committed exactly when
    /// every statement and this succeeded, and every refusal among the statements must be an SQL
    /// error (e.g. [`crate::repo::ledger::apply_or_fail`]), never a plain answer that the caller
    /// reads too late. Then [`Burst::ended`].
    pub async fn commit_joined(&self) -> Result<(), DbError> {
        Ok(self.client().batch_execute("COMMIT").await?)
    }

    /// Gives the connection back after [`Burst::commit_joined`] was answered (the transaction ended
    /// one way or the other; a broken connection is discarded by the pool).
    pub fn ended(mut self) -> Connection {
        self.conn.take().expect("a burst ends once")
    }

    /// Commits, and gives the connection back for more work outside the transaction.
    pub async fn commit(self) -> Result<Connection, DbError> {
        self.end("COMMIT").await
    }

    /// Rolls back (after a statement failed or its answer refused the change).
    pub async fn rollback(self) -> Result<Connection, DbError> {
        self.end("ROLLBACK").await
    }

    async fn end(mut self, statement: &str) -> Result<Connection, DbError> {
        self.client().batch_execute(statement).await?;
        Ok(self.conn.take().expect("a burst ends once"))
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the connection ends the transaction at the server; the pool opens another.
            drop(Object::take(conn));
        }
    }
}
