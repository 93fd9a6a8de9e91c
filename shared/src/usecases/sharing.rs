//! A person's consent to have their model offered to everyone (a system model shows their face):
//! given and withdrawn by the model's owner only; withdrawing stops the offer at once.

use crate::repo::models;
use crate::services::Services;

use super::ServiceError;

pub async fn set_consent(
    services: &Services,
    user_id: i64,
    model_id: i64,
    consent: bool,
) -> Result<(), ServiceError> {
    let db = services.db();
    if !models::set_sharing_consent(&**db.conn().await?, model_id, user_id, consent).await? {
        return Err(ServiceError::NotFound("model"));
    }
    tracing::info!(model_id, consent, "sharing consent changed");
    Ok(())
}
