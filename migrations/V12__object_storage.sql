-- Our own copies of training photos and generated images, in the bucket (or a local directory):
-- object keys, never URLs, are what we keep; URLs are signed when they are handed out.

-- A training photo's copy in the bucket; a photo may now come only from there.
ALTER TABLE training_photos ADD COLUMN storage_key TEXT;
ALTER TABLE training_photos DROP CONSTRAINT training_photos_check;
ALTER TABLE training_photos ADD CONSTRAINT training_photos_have_a_source
    CHECK (telegram_file_id IS NOT NULL OR source_url IS NOT NULL OR storage_key IS NOT NULL);

-- Whether the owner keeps the training photos (for retraining) once the training ends; by default
-- they are deleted then.
ALTER TABLE models ADD COLUMN keep_photos BOOLEAN NOT NULL DEFAULT false;
-- The model's preview as one of our objects (its first generated image).
ALTER TABLE models ADD COLUMN preview_key TEXT;

-- A generation's images in the bucket, copied from Replicate before the album counts as delivered.
ALTER TABLE generations ADD COLUMN image_keys TEXT[] NOT NULL DEFAULT '{}';

-- A photo the Mini App uploads straight to the bucket through a signed URL, until a training takes
-- it (`model_id`) or it expires.
CREATE TABLE uploads (
    id           TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    storage_key  TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL CHECK (size > 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    model_id     BIGINT REFERENCES models (id) ON DELETE SET NULL
);
CREATE INDEX uploads_by_user ON uploads (user_id, created_at);
CREATE INDEX uploads_unused ON uploads (expires_at) WHERE model_id IS NULL;
