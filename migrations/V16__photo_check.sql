-- The check of each training photo before the training is paid for (crate `photo-check`): what it
-- found wrong (NULL: nothing, or not checked), its difference hash (a later photo nearly the same
-- as a good one is a duplicate), and what was measured (shown to the person, kept for tuning).
-- A photo with a problem stays with the draft, so the person is told which to replace, but it does
-- not count toward the 10-20 photos and is never sent to training.
ALTER TABLE training_photos
    ADD COLUMN problem TEXT CHECK (problem IN ('unreadable', 'too_small', 'no_face', 'several_faces',
                                               'face_too_small', 'blurred', 'duplicate')),
    ADD COLUMN photo_hash BIGINT,
    ADD COLUMN measurements JSONB;
