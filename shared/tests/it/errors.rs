//! The one classification of failures (`shared::errors`), against errors a real server raises.

use shared::db::DbError;
use shared::errors::Transient;

#[tokio::test]
async fn database_errors_are_transient_only_when_the_server_cannot_serve_us_now() {
    let db = testkit::test_db().await;
    let conn = db.db.conn().await.expect("a connection");
    let cases = [
        ("40001", true),  // serialization_failure
        ("40P01", true),  // deadlock_detected
        ("55P03", true),  // lock_not_available
        ("57P01", true),  // admin_shutdown
        ("53300", true),  // too_many_connections
        ("08006", true),  // connection_failure
        ("23505", false), // unique_violation
        ("22012", false), // division_by_zero
        ("42P01", false), // undefined_table
    ];
    for (code, transient) in cases {
        let raise =
            format!("DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '{code}'; END $$");
        let error: DbError = conn
            .batch_execute(&raise)
            .await
            .expect_err("the block raises")
            .into();
        assert_eq!(error.sql_state(), Some(code));
        assert_eq!(error.is_transient(), transient, "SQLSTATE {code}");
    }
}

#[tokio::test]
async fn a_connection_that_is_gone_is_transient() {
    let db = testkit::test_db().await;
    let conn = db.db.conn().await.expect("a connection");
    let pid: i32 = conn
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("the backend pid")
        .get(0);
    // The server ends our session, as a failover or an operator would.
    let (killer, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("a second client");
    tokio::spawn(connection);
    killer
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminated");
    let error: DbError = conn
        .batch_execute("SELECT 1")
        .await
        .expect_err("the connection is gone")
        .into();
    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test]
async fn a_statement_that_disagrees_with_its_rows_is_permanent() {
    let db = testkit::test_db().await;
    let conn = db.db.conn().await.expect("a connection");
    let no_row: DbError = conn
        .query_one("SELECT 1 WHERE false", &[])
        .await
        .expect_err("no row")
        .into();
    assert_eq!(no_row.sql_state(), None);
    assert!(!no_row.is_transient(), "{no_row:?}");
    let wrong_type: DbError = conn
        .query_one("SELECT 'text'::text", &[])
        .await
        .expect("a row")
        .try_get::<_, i64>(0)
        .expect_err("text is not an i64")
        .into();
    assert!(!wrong_type.is_transient(), "{wrong_type:?}");
}
