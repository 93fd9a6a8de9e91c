//! User data deletion: a model's training photos and Replicate references removed, the model kept
//! as `canceled` (its ledger entries and generations still point at it).

use super::{DbError, GenericClient, Type};

/// Deletes the model's training photos and clears what points at its trained weights (version,
/// weights URL, destination, preview); the model becomes `canceled`. Returns the photos removed.
/// The training id stays, so a late Replicate report still finds the model (and, it being final,
/// changes nothing).
pub async fn erase_model(db: &impl GenericClient, model_id: i64) -> Result<i64, DbError> {
    let row = db
        .query_typed_one(
            "WITH photos AS (
                DELETE FROM training_photos WHERE model_id = $1 RETURNING 1
             ), erased AS (
                UPDATE models SET status = 'canceled', version = NULL, weights_url = NULL,
                    replicate_model = NULL, preview_file_id = NULL, preview_url = NULL,
                    error = 'deleted by its owner', updated_at = now(),
                    finished_at = COALESCE(finished_at, now())
                WHERE id = $1
                RETURNING id
             )
             SELECT (SELECT count(*) FROM photos) AS photos, (SELECT count(*) FROM erased) AS models",
            &[(&model_id, Type::INT8)],
        )
        .await?;
    Ok(row.get("photos"))
}

/// Removes a model that is still a draft (with its photos): a training request that failed before
/// anything was charged leaves nothing behind. False if it is no draft (any more).
pub async fn delete_draft(db: &impl GenericClient, model_id: i64) -> Result<bool, DbError> {
    let n = db
        .execute_typed(
            "DELETE FROM models WHERE id = $1 AND status = 'draft'",
            &[(&model_id, Type::INT8)],
        )
        .await?;
    Ok(n == 1)
}
