-- A statement's refusal raised as an error (SQLSTATE DP001, the reason as its message, what goes
-- with it as its detail): a transaction whose COMMIT is sent with its statements, before any answer
-- is read, commits only if none failed, so what refuses the change (too few tokens, a free redo
-- already used) must fail, not answer "nothing done" and be committed with the rest.
CREATE FUNCTION refuse(reason text, detail text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'DP001', MESSAGE = reason, DETAIL = detail;
END
$$;
