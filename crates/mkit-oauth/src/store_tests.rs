//! The store's SQL on SQLite (what D1 is) with every real migration, batches run as D1 runs
//! them: in order, in one transaction.

use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde_json::json;

use super::*;
use crate::grant::{use_refresh, RefreshOutcome, RefreshRequest};

const MIGRATIONS: [&str; 8] = [
    include_str!("../../mkit/migrations/0001_init.sql"),
    include_str!("../../mkit/migrations/0003_processed_events.sql"),
    include_str!("../../mkit/migrations/0004_ledger.sql"),
    include_str!("../../mkit/migrations/0005_binding.sql"),
    include_str!("../../mkit/migrations/0006_oauth.sql"),
    include_str!("../../mkit/migrations/0009_oauth_client_grants.sql"),
    include_str!("../../mkit/migrations/0010_oauth_installation.sql"),
    include_str!("../../mkit/migrations/0013_oauth_application_type.sql"),
];
const NOW: u64 = 1_800_000_000;

fn db() -> Connection {
    let c = Connection::open_in_memory().expect("sqlite");
    for m in MIGRATIONS {
        c.execute_batch(m).expect("migration");
    }
    c
}

/// One D1 batch: the rows each statement changed.
fn batch(c: &mut Connection, statements: &[Statement]) -> Vec<usize> {
    let tx = c.transaction().expect("tx");
    let changes = statements
        .iter()
        .map(|s| tx.execute(s.sql, params_from_iter(mkit_kernel::sql::sqlite_values(&s.params))).expect("statement"))
        .collect();
    tx.commit().expect("commit");
    changes
}

fn grant() -> Grant {
    Grant {
        client_id: "c1".into(),
        sub: "upstream|ada".into(),
        scope: "mcp".into(),
        resource: "https://mcp.example.com/mcp".into(),
        claims: json!({ "email": "ada@example.com" }).as_object().cloned().unwrap_or_default(),
    }
}

fn read_code(c: &Connection, secret: &str) -> Option<Code> {
    c.query_row(CODE_SQL, [secret_hash(secret)], |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(4)?, r.get(5)?))
    })
    .optional()
    .expect("query")
    .and_then(|(g, uri, ch, exp, used)| code_from_row(&g, uri, ch, exp, used))
}

fn read_refresh(c: &Connection, secret: &str) -> Option<Refresh> {
    c.query_row(REFRESH_SQL, [secret_hash(secret)], |r| {
        Ok((r.get(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
    })
    .optional()
    .expect("query")
    .and_then(|(f, g, exp, rot, fexp, rev, at)| refresh_from_row(f, &g, exp, rot, fexp, rev, at))
}

#[test]
fn clients_round_trip_with_the_application_type_they_stated() {
    let mut c = db();
    let client = Client {
        client_id: "c1".into(),
        client_name: Some("Inspector".into()),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        refresh: true,
        application_type: Some("native"),
    };
    let unstated = Client { client_id: "c2".into(), application_type: None, ..client.clone() };
    let insert = |cl: &Client| insert_client(cl, NOW, MAX_PENDING_REGISTRATIONS);
    assert_eq!(batch(&mut c, &[insert(&client), insert(&unstated)]), [1, 1]);
    let row = |id: &str| {
        c.query_row(CLIENT_SQL, [id], |r| {
            Ok(ClientRow {
                client_name: r.get(0)?,
                redirect_uris: r.get(1)?,
                refresh: r.get(2)?,
                application_type: r.get(3)?,
            })
        })
        .expect("row")
    };
    assert_eq!(client_from_row("c1", row("c1")), Some(client));
    assert_eq!(client_from_row("c2", row("c2")), Some(unstated));
    let odd = ClientRow { application_type: Some("fridge".into()), ..row("c1") };
    assert_eq!(client_from_row("c1", odd).and_then(|c| c.application_type), None, "only the two SEP-837 types");
}

#[test]
fn a_code_redeems_once_and_a_replay_revokes_what_it_started() {
    let mut c = db();
    let code = Code {
        grant: grant(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        code_challenge: "ch".into(),
        expires_at: NOW + 300,
        used: false,
    };
    assert_eq!(batch(&mut c, &[insert_code("code-1", &code, "fam-1")]), [1]);
    assert_eq!(read_code(&c, "code-1"), Some(code.clone()));
    assert_eq!(batch(&mut c, &redeem("code-1", "fam-1", &code, "rt-1", NOW)), [1, 1, 1]);
    assert!(read_code(&c, "code-1").is_some_and(|k| k.used));
    let rt = read_refresh(&c, "rt-1").expect("first refresh token");
    assert_eq!((rt.family.as_str(), rt.rotated, rt.family_revoked, rt.grant), ("fam-1", false, false, grant()));
    assert_eq!(
        batch(&mut c, &redeem("code-1", "fam-1", &code, "rt-x", NOW)),
        [0, 0, 0],
        "a second redemption does nothing"
    );
    assert!(read_refresh(&c, "rt-x").is_none());
    assert_eq!(batch(&mut c, &[revoke_family_of_code("code-1")]), [1]);
    assert!(
        read_refresh(&c, "rt-1").is_some_and(|r| r.family_revoked),
        "the replay revoked the first redemption's tokens"
    );
    assert!(read_code(&c, "never-issued").is_none());
}

#[test]
fn refresh_rotation_is_single_use_and_revocation_needs_the_owner() {
    let mut c = db();
    let code = Code {
        grant: grant(),
        redirect_uri: "u".into(),
        code_challenge: "ch".into(),
        expires_at: NOW + 300,
        used: false,
    };
    batch(&mut c, &[insert_code("code-1", &code, "fam-1")]);
    batch(&mut c, &redeem("code-1", "fam-1", &code, "rt-1", NOW));
    assert_eq!(batch(&mut c, &rotate("rt-1", "rt-2", "fam-1", &grant(), NOW + 10)), [1, 1]);
    assert!(read_refresh(&c, "rt-1").is_some_and(|r| r.rotated));
    assert!(read_refresh(&c, "rt-2").is_some_and(|r| !r.rotated && r.expires_at == NOW + 10 + REFRESH_TTL_SECS));
    assert_eq!(
        batch(&mut c, &rotate("rt-1", "rt-3", "fam-1", &grant(), NOW + 20)),
        [0, 0],
        "a used token rotates nothing"
    );
    assert_eq!(batch(&mut c, &[revoke_by_refresh("rt-2", "someone-else")]), [0], "only the client it was issued to");
    assert_eq!(batch(&mut c, &[revoke_by_refresh("rt-2", "c1")]), [1]);
    assert!(read_refresh(&c, "rt-2").is_some_and(|r| r.family_revoked));
    assert_eq!(batch(&mut c, &[revoke_family("fam-1")]), [1]);
}

#[test]
fn the_sweep_deletes_only_what_expired() {
    let mut c = db();
    let code = |exp| Code {
        grant: grant(),
        redirect_uri: "u".into(),
        code_challenge: "ch".into(),
        expires_at: exp,
        used: false,
    };
    batch(&mut c, &[insert_code("old", &code(NOW - 7200), "f-old"), insert_code("new", &code(NOW + 300), "f-new")]);
    batch(&mut c, &redeem("new", "f-new", &code(NOW + 300), "rt-new", NOW));
    batch(
        &mut c,
        &[Statement {
            sql: "UPDATE oauth_families SET expires_at = ?1 WHERE family = 'f-new'",
            params: vec![SqlValue::Int(NOW as i64 - 1)],
        }],
    );
    assert_eq!(batch(&mut c, &sweep(NOW)), [0, 1, 1, 1], "no registration to sweep, then the rest");
    assert!(read_code(&c, "old").is_none() && read_code(&c, "new").is_some());
    assert!(read_refresh(&c, "rt-new").is_none());
}

fn at(secs: u64) -> i64 {
    i64::try_from(secs).expect("a time")
}

/// A family's installation: (client_id, redirect_uri), and when its sign-in began.
fn family_row(c: &Connection, family: &str) -> (String, Option<String>, String, i64, i64) {
    c.query_row(
        "SELECT client_id, redirect_uri, sub, signed_in_at, expires_at FROM oauth_families WHERE family = ?1",
        [family],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
    .expect("family row")
}

/// Signs `grant` in through `redirect_uri`: a code, redeemed at `now` into `family` and `refresh`.
fn sign_in(c: &mut Connection, grant: Grant, redirect_uri: &str, family: &str, refresh: &str, now: u64) {
    let code = Code {
        grant,
        redirect_uri: redirect_uri.into(),
        code_challenge: "ch".into(),
        expires_at: now + 300,
        used: false,
    };
    let code_secret = format!("code-of-{family}");
    assert_eq!(batch(c, &[insert_code(&code_secret, &code, family)]), [1]);
    assert_eq!(batch(c, &redeem(&code_secret, family, &code, refresh, now)), [1, 1, 1]);
}

/// #28 item 9: two installations of one CIMD client (one `client_id`, the metadata document's URL)
/// on two loopback redirect URIs are two grants; revoking one's leaves the other refreshing.
#[test]
fn two_installations_of_one_cimd_client_are_two_grants() {
    const CIMD: &str = "https://app.example.com/oauth/client.json";
    let mut c = db();
    let g = Grant { client_id: CIMD.into(), ..grant() };
    sign_in(&mut c, g.clone(), "http://127.0.0.1:33418/callback", "fam-laptop", "rt-laptop", NOW);
    sign_in(&mut c, g.clone(), "http://127.0.0.1:51007/callback", "fam-desktop", "rt-desktop", NOW + 60);
    assert_eq!(
        family_row(&c, "fam-laptop"),
        (
            CIMD.into(),
            Some("http://127.0.0.1:33418/callback".into()),
            "upstream|ada".into(),
            at(NOW),
            at(NOW + FAMILY_MAX_SECS)
        ),
        "the family records the installation (client, redirect URI) and when the sign-in began"
    );
    assert_eq!(family_row(&c, "fam-desktop").1.as_deref(), Some("http://127.0.0.1:51007/callback"));
    assert_eq!(batch(&mut c, &[revoke_by_refresh("rt-laptop", CIMD)]), [1], "RFC 7009 at the laptop");
    let req = RefreshRequest { client_id: CIMD, resource: None, signin_max_secs: 7 * 86_400 };
    let now = NOW + 120;
    assert!(matches!(use_refresh(read_refresh(&c, "rt-laptop").as_ref(), &req, now), RefreshOutcome::Refuse(_)));
    assert_eq!(
        use_refresh(read_refresh(&c, "rt-desktop").as_ref(), &req, now),
        RefreshOutcome::Rotate(g),
        "the other installation keeps refreshing"
    );
}

/// #28 item 12: the sign-in's start is stored, and a refresh past `MKIT_AUTH_SIGNIN_DAYS` is refused
/// although its refresh token is fresh (rotation does not restart the sign-in).
#[test]
fn a_refresh_reads_when_the_sign_in_began() {
    const DAY: u64 = 86_400;
    let mut c = db();
    sign_in(&mut c, grant(), "http://127.0.0.1/cb", "fam-1", "rt-1", NOW);
    assert_eq!(batch(&mut c, &rotate("rt-1", "rt-2", "fam-1", &grant(), NOW + 6 * DAY)), [1, 1]);
    let rt = read_refresh(&c, "rt-2").expect("rotated token");
    assert_eq!((rt.signed_in_at, rt.expires_at), (NOW, NOW + 6 * DAY + REFRESH_TTL_SECS));
    let req = RefreshRequest { client_id: "c1", resource: None, signin_max_secs: 7 * DAY };
    assert_eq!(use_refresh(Some(&rt), &req, NOW + 7 * DAY - 1), RefreshOutcome::Rotate(grant()));
    assert!(matches!(use_refresh(Some(&rt), &req, NOW + 7 * DAY), RefreshOutcome::Refuse(_)));
}

/// Migration 0010 on a store with families from before it: their sign-in began 90 days before
/// their end, and they belong to no installation.
#[test]
fn families_from_before_migration_0010_keep_their_start() {
    let c = Connection::open_in_memory().expect("sqlite");
    for m in &MIGRATIONS[..6] {
        c.execute_batch(m).expect("migration");
    }
    c.execute(
        "INSERT INTO oauth_families (family, client_id, sub, expires_at) VALUES ('old', 'c1', 's', ?1)",
        [at(NOW + FAMILY_MAX_SECS)],
    )
    .expect("legacy family");
    c.execute_batch(MIGRATIONS[6]).expect("migration 0010");
    assert_eq!(family_row(&c, "old"), ("c1".into(), None, "s".into(), at(NOW), at(NOW + FAMILY_MAX_SECS)));
}

fn client(id: &str) -> Client {
    Client {
        client_id: id.into(),
        client_name: Some("x".into()),
        redirect_uris: vec!["https://a.example/cb".into()],
        refresh: true,
        application_type: None,
    }
}

fn client_ids(c: &Connection) -> Vec<String> {
    let mut q = c.prepare("SELECT client_id FROM oauth_clients ORDER BY client_id").expect("query");
    q.query_map([], |r| r.get(0)).expect("rows").collect::<Result<_, _>>().expect("ids")
}

#[test]
fn registrations_waiting_for_a_first_grant_are_bounded() {
    let mut c = db();
    assert_eq!(batch(&mut c, &[insert_client(&client("a"), NOW, 2)]), [1]);
    assert_eq!(batch(&mut c, &[insert_client(&client("b"), NOW, 2)]), [1]);
    assert_eq!(batch(&mut c, &[insert_client(&client("c"), NOW, 2)]), [0], "two wait already: refused");
    assert_eq!(batch(&mut c, &[mark_granted("a", NOW)]), [1]);
    assert_eq!(batch(&mut c, &[mark_granted("a", NOW + 5)]), [0], "the first grant is kept");
    assert_eq!(batch(&mut c, &[insert_client(&client("c"), NOW, 2)]), [1], "a granted one no longer counts");
    assert_eq!(client_ids(&c), ["a", "b", "c"]);
}

#[test]
fn the_sweep_removes_registrations_never_granted_within_a_day() {
    let mut c = db();
    let max = MAX_PENDING_REGISTRATIONS;
    batch(&mut c, &[insert_client(&client("old-granted"), NOW, max), insert_client(&client("old-pending"), NOW, max)]);
    batch(&mut c, &[mark_granted("old-granted", NOW + 60)]);
    batch(&mut c, &[insert_client(&client("young-pending"), NOW + PENDING_REGISTRATION_SECS, max)]);
    batch(&mut c, &sweep(NOW + PENDING_REGISTRATION_SECS + 1));
    assert_eq!(client_ids(&c), ["old-granted", "young-pending"]);
}
