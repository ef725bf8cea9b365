//! Machine clients: the grant's client authentication and assertion rules, and their SQL on
//! SQLite with the real migration.

use rusqlite::{params_from_iter, Connection};
use serde_json::{json, Map, Value};

use crate::grant::secret_hash;
use crate::machine::*;
use crate::machine_store::*;

const NOW: u64 = 1_800_000_000;
const ID: &str = "mkit_m_abc";
const ISSUER: &str = "https://mcp.example.com";

fn form(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
}

#[test]
fn a_request_authenticates_its_client_exactly_one_way() {
    let basic = Some((ID.to_owned(), "s3cret".to_owned()));
    assert_eq!(
        client_auth(form(&[]), basic.clone()),
        Ok(ClientAuth::Secret { client_id: ID.into(), secret: "s3cret".into() })
    );
    let post = form(&[("client_id", ID), ("client_secret", "s3cret")]);
    assert_eq!(client_auth(post, None), Ok(ClientAuth::Secret { client_id: ID.into(), secret: "s3cret".into() }));
    let jwt = form(&[("client_assertion", "a.b.c"), ("client_assertion_type", ASSERTION_TYPE)]);
    assert_eq!(client_auth(jwt, None), Ok(ClientAuth::Assertion("a.b.c".into())));
    let both = form(&[("client_assertion", "a.b.c"), ("client_assertion_type", ASSERTION_TYPE)]);
    assert_eq!(client_auth(both, basic).map_err(|e| e.code), Err("invalid_request"), "two methods");
    let untyped = form(&[("client_assertion", "a.b.c")]);
    assert_eq!(client_auth(untyped, None).map_err(|e| e.code), Err("invalid_request"));
    let no_secret = form(&[("client_id", ID)]);
    assert_eq!(client_auth(no_secret, None).map_err(|e| e.code), Err("invalid_client"), "no credentials at all");
}

fn jwt_with(claims: Value) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    format!("eyJhbGciOiJFUzI1NiJ9.{}.sig", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

#[test]
fn an_assertion_names_its_client_in_sub() {
    assert_eq!(assertion_client(&jwt_with(json!({"sub": ID, "iss": ID}))), Ok(ID.to_owned()));
    for bad in [jwt_with(json!({"iss": ID})), jwt_with(json!({"sub": ""})), "not-a-jwt".to_owned(), "a.!!.c".into()] {
        assert_eq!(assertion_client(&bad).map_err(|e| e.code), Err("invalid_client"), "{bad}");
    }
}

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn good() -> Value {
    json!({ "iss": ID, "sub": ID, "aud": ISSUER, "exp": NOW + 60, "iat": NOW, "jti": "j-1" })
}

fn check(v: Value) -> Result<Assertion, &'static str> {
    let endpoint = format!("{ISSUER}/oauth/token");
    check_assertion(&claims(v), ID, &[ISSUER, &endpoint], NOW).map_err(|e| e.code)
}

#[test]
fn an_assertions_claims_follow_rfc_7523() {
    assert_eq!(check(good()), Ok(Assertion { jti: "j-1".into(), exp: NOW + 60 }));
    let with = |k: &str, v: Value| {
        let mut c = good();
        c[k] = v;
        c
    };
    assert!(check(with("aud", json!(format!("{ISSUER}/oauth/token")))).is_ok(), "the token endpoint (RFC 7523)");
    let refused = [
        ("iss", json!("mkit_m_other")),
        ("sub", json!("mkit_m_other")),
        ("aud", json!("https://elsewhere.example")),
        ("aud", json!([ISSUER])),
        ("exp", json!(NOW - LEEWAY_SECS)),
        ("exp", json!(NOW + MAX_ASSERTION_LIFETIME_SECS + LEEWAY_SECS + 1)),
        ("exp", json!("soon")),
        ("nbf", json!(NOW + 3600)),
        ("iat", json!(NOW + 3600)),
        ("jti", json!("")),
        ("jti", json!("x".repeat(257))),
        ("jti", json!(7)),
    ];
    for (k, v) in refused {
        assert_eq!(check(with(k, v.clone())), Err("invalid_client"), "{k} = {v}");
    }
    let mut no_jti = good();
    no_jti.as_object_mut().map(|o| o.remove("jti"));
    assert_eq!(check(no_jti), Err("invalid_client"));
    assert!(check(with("exp", json!(NOW - LEEWAY_SECS + 1))).is_ok(), "within the leeway");
}

#[test]
fn secrets_compare_by_their_hash_and_scopes_stay_within_the_registration() {
    let stored = secret_hash("s3cret");
    assert!(secret_matches(&stored, "s3cret"));
    assert!(!secret_matches(&stored, "s3cret "));
    assert!(!secret_matches(&stored, ""));
    let registered = vec!["notes:read".to_owned(), "notes:write".to_owned()];
    assert_eq!(granted_scope(None, &registered), Ok("notes:read notes:write".into()));
    assert_eq!(granted_scope(Some(" "), &registered), Ok("notes:read notes:write".into()));
    assert_eq!(granted_scope(Some("notes:read notes:read"), &registered), Ok("notes:read".into()));
    assert_eq!(granted_scope(Some("notes:admin"), &registered).map_err(|e| e.code), Err("invalid_scope"));
    assert_eq!(granted_scope(Some("notes:admin notes:write"), &registered), Ok("notes:write".into()), "narrowed");
    assert!(reserved_subject("mkit_m_x") && !reserved_subject("auth0|mkit_m_x"));
}

const MIGRATIONS: [&str; 2] = [
    include_str!("../../mkit/migrations/0006_oauth.sql"),
    include_str!("../../mkit/migrations/0011_machine_clients.sql"),
];

fn db() -> Connection {
    let c = Connection::open_in_memory().expect("sqlite");
    for m in MIGRATIONS {
        c.execute_batch(m).expect("migration");
    }
    c
}

fn run(c: &Connection, s: &mkit_kernel::sql::Statement) -> usize {
    c.execute(s.sql, params_from_iter(mkit_kernel::sql::sqlite_values(&s.params))).expect("statement")
}

fn row(c: &Connection, id: &str) -> Option<MachineRow> {
    let mut q = c.prepare(MACHINE_CLIENT_SQL).expect("prepare");
    let mut rows = q.query([id]).expect("query");
    let r = rows.next().expect("row")?;
    Some(MachineRow {
        name: r.get(0).expect("name"),
        scopes: r.get(1).expect("scopes"),
        secret_hash: r.get(2).expect("secret_hash"),
        jwks_uri: r.get(3).expect("jwks_uri"),
        jwks: r.get(4).expect("jwks"),
        revoked_at: r.get::<_, Option<i64>>(5).expect("revoked_at").map(|t| t as f64),
    })
}

#[test]
fn a_clients_row_has_one_credential_and_reads_back() {
    let c = db();
    let insert = "INSERT INTO machine_clients (client_id, name, scopes, secret_hash, jwks_uri, jwks, created_at) \
                  VALUES (?1, 'nightly', 'notes:read', ?2, ?3, NULL, 1)";
    c.execute(insert, rusqlite::params![ID, secret_hash("s"), Option::<String>::None]).expect("insert");
    let two = c.execute(insert, rusqlite::params!["mkit_m_two", secret_hash("s"), "https://k.example/jwks"]);
    assert!(two.is_err(), "two credentials break the CHECK");
    let client = row(&c, ID).and_then(|r| machine_client_from_row(ID, r)).expect("client");
    assert_eq!(client.scopes, ["notes:read"]);
    assert_eq!(client.credential, Credential::Secret(secret_hash("s")));
    assert!(!client.revoked);
    c.execute("UPDATE machine_clients SET revoked_at = 5 WHERE client_id = ?1", [ID]).expect("revoke");
    assert!(row(&c, ID).and_then(|r| machine_client_from_row(ID, r)).is_some_and(|c| c.revoked));
    assert!(row(&c, "mkit_m_none").is_none());
}

#[test]
fn an_assertions_jti_is_accepted_once_until_it_expires() {
    let c = db();
    let a = Assertion { jti: "j-1".into(), exp: NOW + 60 };
    assert_eq!(run(&c, &remember_assertion(ID, &a)), 1);
    assert_eq!(run(&c, &remember_assertion(ID, &a)), 0, "a replay changes nothing");
    assert_eq!(run(&c, &remember_assertion("mkit_m_other", &a)), 1, "another client's jti is its own");
    assert_eq!(run(&c, &sweep_assertions(NOW + 60)), 0, "kept through the leeway");
    assert_eq!(run(&c, &sweep_assertions(NOW + 60 + LEEWAY_SECS + 1)), 2);
    assert_eq!(run(&c, &remember_assertion(ID, &a)), 1, "an expired jti may not be replayed anyway");
}

#[test]
fn a_clients_revocation_reads_back() {
    let c = db();
    let insert = "INSERT INTO machine_clients (client_id, name, secret_hash, created_at, revoked_at) VALUES (?1, 'x', 'h', 1, ?2)";
    c.execute(insert, rusqlite::params!["mkit_m_live", Option::<i64>::None]).expect("insert");
    c.execute(insert, rusqlite::params!["mkit_m_gone", 5]).expect("insert");
    let read = |id: &str| -> Option<Option<i64>> {
        let s = revoked(id);
        let params = mkit_kernel::sql::sqlite_values(&s.params);
        c.query_row(s.sql, rusqlite::params_from_iter(params), |r| r.get(0)).ok()
    };
    assert_eq!(read("mkit_m_live"), Some(None));
    assert_eq!(read("mkit_m_gone"), Some(Some(5)));
    assert_eq!(read("mkit_m_unknown"), None);
}
