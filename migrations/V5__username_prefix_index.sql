-- Admin search finds users by a prefix of their @username (LIKE 'ann%'), which needs the pattern
-- operator class to use an index.
CREATE INDEX users_username_prefix_idx ON users (lower(username) text_pattern_ops);
