//! What a test reads back from the database: rows that must exist (a missing one fails the test).

use shared::db::{Db, DbError};
use shared::repo::generations::{self, Generation};
use shared::repo::ledger;
use shared::repo::models::{self, Model, TrainingPhoto};
use shared::repo::users::{self, User};

/// The row a read found, which must exist.
fn existing<T>(what: &str, id: i64, read: Result<Option<T>, DbError>) -> T {
    read.unwrap_or_else(|e| panic!("read the {what}: {e:?}"))
        .unwrap_or_else(|| panic!("{what} {id} exists"))
}

pub async fn model(db: &Db, id: i64) -> Model {
    let conn = db.conn().await.expect("a connection");
    existing("model", id, models::get(&**conn, id).await)
}

pub async fn photos(db: &Db, model_id: i64) -> Vec<TrainingPhoto> {
    let conn = db.conn().await.expect("a connection");
    models::photos(&**conn, model_id)
        .await
        .expect("read the photos")
}

pub async fn generation(db: &Db, id: i64) -> Generation {
    let conn = db.conn().await.expect("a connection");
    existing("generation", id, generations::get(&**conn, id).await)
}

pub async fn user(db: &Db, id: i64) -> User {
    let conn = db.conn().await.expect("a connection");
    existing("user", id, users::get(&**conn, id).await)
}

/// The user's balance, checked against their ledger (balance = sum of the ledger).
pub async fn balance(db: &Db, user_id: i64) -> i64 {
    let tokens_left = user(db, user_id).await.tokens_left;
    let conn = db.conn().await.expect("a connection");
    assert_eq!(
        ledger::sum(&**conn, user_id).await.expect("sum the ledger"),
        tokens_left,
        "balance = sum of the ledger"
    );
    tokens_left
}

/// How many models retrain another one (whatever their state).
pub async fn retrainings(db: &Db) -> i64 {
    let conn = db.conn().await.expect("a connection");
    conn.query_one(
        "SELECT count(*) FROM models WHERE retrain_of IS NOT NULL",
        &[],
    )
    .await
    .expect("count the retrainings")
    .get(0)
}

/// How many job costs are recorded (one a finished training or prediction).
pub async fn job_costs(db: &Db) -> i64 {
    let conn = db.conn().await.expect("a connection");
    conn.query_one("SELECT count(*) FROM job_costs", &[])
        .await
        .expect("count the job costs")
        .get(0)
}
