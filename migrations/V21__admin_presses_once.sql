-- An admin's press of a bot button that changes a balance is carried out once, however often its
-- update is delivered: the press (its callback query) is the audited action's subject.
CREATE UNIQUE INDEX admin_actions_press_once_idx ON admin_actions (admin_id, action, subject)
    WHERE subject LIKE 'press:%';
