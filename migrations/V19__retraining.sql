-- Retraining: a ready model trained again with more photos is a new model row that replaces it
-- (`retrain_of`); the old one stays usable until the new one is ready, then is retired. One open
-- retraining per model at a time, so a double tap finds the one already started.
ALTER TABLE models ADD COLUMN retrain_of BIGINT REFERENCES models (id) ON DELETE SET NULL;
CREATE UNIQUE INDEX models_open_retrain_idx ON models (retrain_of)
    WHERE retrain_of IS NOT NULL AND status IN ('draft', 'queued', 'training');
