//! The PostgreSQL page walk that had the server to itself ends a full clear without reading
//! the table again, unless something on the table can keep or bring back a row: these
//! tests plant each such thing and expect the look after the clear to find what it left.

use crate::support::project::Project;
use crate::support::run::{Says, run, stdout};
use crate::support::sql::TestDb;

/// `azu-session clear --force -b database` with `DATABASE_URL` set to `db`'s.
fn clear(db: &TestDb, code: i32) -> std::process::Output {
    let p = Project::new();
    run(
        p.cmd()
            .args(["clear", "-b", "database", "--force"])
            .env("DATABASE_URL", &db.url),
        code,
    )
}

#[test]
fn a_trigger_that_skips_deletes_is_found_by_the_look() {
    let Some(db) = TestDb::postgres("trigger_skips_deletes") else {
        return;
    };
    db.create_sessions("sessions", 40);
    db.exec(
        "CREATE FUNCTION keep_three() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF OLD.id <= 3 THEN RETURN NULL; END IF; RETURN OLD; END $$;\n\
         CREATE TRIGGER keep BEFORE DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION keep_three()",
    );
    let out = clear(&db, 1);
    assert!(!stdout(&out).contains('✓'), "{}", stdout(&out));
    out.warns(&[
        "3 row(s) are still in `sessions`",
        "after 37 session(s) were cleared: a trigger or rule kept them",
    ]);
    assert_eq!(db.count("sessions"), 3);
}

#[test]
fn a_trigger_that_writes_a_session_back_is_cleared_by_a_finishing_pass() {
    let Some(db) = TestDb::postgres("trigger_writes_back") else {
        return;
    };
    // Fill factor 50: the last page keeps room, so the row the trigger writes lands on a
    // page the walk has passed, not on a new page it would follow.
    db.exec(
        "CREATE TABLE sessions (id BIGSERIAL PRIMARY KEY, session_id VARCHAR(255) NOT NULL UNIQUE, data TEXT NOT NULL, created_at TIMESTAMP, updated_at TIMESTAMP, expires_at TIMESTAMP NOT NULL) WITH (fillfactor = 50);\n\
         CREATE TABLE written (n INT);\n\
         CREATE FUNCTION write_back() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NOT EXISTS (SELECT 1 FROM sessions) AND NOT EXISTS (SELECT 1 FROM written) THEN \
             INSERT INTO written VALUES (1); \
             INSERT INTO sessions (session_id, data, expires_at) VALUES ('written-back', '{}', now() + interval '1 day'); \
           END IF; RETURN NULL; END $$;\n\
         CREATE TRIGGER write_back AFTER DELETE ON sessions FOR EACH STATEMENT EXECUTE FUNCTION write_back()",
    );
    db.insert_sessions("sessions", 300, "2099-01-01 00:00:00");
    let out = clear(&db, 0);
    out.says(&["✓ Sessions cleared successfully"]);
    assert_eq!(db.scalar("SELECT count(*) FROM written"), 1);
    assert_eq!(db.count("sessions"), 0);
}

#[test]
fn a_partitions_own_row_level_security_is_passed_through_the_parent() {
    let Some(db) = TestDb::postgres("partition_own_rls") else {
        return;
    };
    db.exec(
        "CREATE TABLE sessions (id BIGSERIAL, session_id VARCHAR(255) NOT NULL, data TEXT NOT NULL, created_at TIMESTAMP, updated_at TIMESTAMP, expires_at TIMESTAMP NOT NULL) PARTITION BY RANGE (expires_at);\n\
         CREATE TABLE s_old PARTITION OF sessions FOR VALUES FROM ('1990-01-01') TO ('2050-01-01');\n\
         CREATE TABLE s_new PARTITION OF sessions FOR VALUES FROM ('2050-01-01') TO ('2200-01-01')",
    );
    db.insert_sessions("sessions", 10, "2000-01-01 00:00:00");
    db.insert_sessions("sessions", 10, "2099-01-01 00:00:00");
    // Policies on one partition alone: statements naming it meet them, the application's
    // statements through the parent do not.
    db.exec(
        "ALTER TABLE s_old ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE s_old FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY half ON s_old USING (id % 2 = 0)",
    );
    assert_eq!(db.scalar("SELECT count(*) FROM s_old"), 5);
    let out = clear(&db, 0);
    out.says(&["Cleared 20 session(s)\n", "✓ Sessions cleared successfully"]);
    assert_eq!(db.count("sessions"), 0);
}
