//! Runs mKit's access-token validator over JSON lines on stdin, for the differential test
//! against jose (`tests/differential/jose.mjs`).
//!
//! Each input line: `{"token": "...", "jwks": {...}, "issuer": "...", "audiences": ["..."],
//! "now": <secs>, "leeway": <secs>, "accept_jwt_typ": bool}`. `jwks` and the policy fields may
//! be left out after the first line: the last ones given stay in force. Each output line:
//! `{"ok": bool, "code": "<TokenError::code()>" | null}`, with an `"error"` member as well when the
//! input line itself is unusable.

use std::io::{self, BufRead, BufWriter, Write};

use mkit::auth::jwk::JwkSet;
use mkit::auth::validator::AccessTokenValidator;
use serde_json::{json, Value};

struct State {
    keys: Option<JwkSet>,
    validator: AccessTokenValidator,
    now: u64,
}

impl State {
    /// Takes whatever policy fields and JWKS the line carries.
    fn update(&mut self, line: &Value) -> Result<(), String> {
        if let Some(jwks) = line.get("jwks") {
            let keys = JwkSet::parse(jwks.to_string().as_bytes()).map_err(|e| format!("jwks: {e}"))?;
            self.keys = Some(keys);
        }
        if let Some(v) = line.get("issuer") {
            self.validator.issuer = v.as_str().ok_or("issuer must be a string")?.to_owned();
        }
        if let Some(v) = line.get("audiences") {
            let list = v.as_array().ok_or("audiences must be an array")?;
            self.validator.audiences =
                list.iter().map(|a| a.as_str().map(str::to_owned)).collect::<Option<_>>().ok_or("audiences")?;
        }
        if let Some(v) = line.get("now") {
            self.now = v.as_u64().ok_or("now must be a whole number")?;
        }
        if let Some(v) = line.get("leeway") {
            self.validator.leeway_secs = v.as_u64().ok_or("leeway must be a whole number")?;
        }
        if let Some(v) = line.get("accept_jwt_typ") {
            self.validator.accept_jwt_typ = v.as_bool().ok_or("accept_jwt_typ must be a boolean")?;
        }
        Ok(())
    }

    fn verdict(&mut self, text: &str) -> Result<Value, String> {
        let line: Value = serde_json::from_str(text).map_err(|e| format!("input line: {e}"))?;
        self.update(&line)?;
        let token = line.get("token").and_then(Value::as_str).ok_or("token must be a string")?;
        let keys = self.keys.as_ref().ok_or("no jwks given yet")?;
        Ok(match self.validator.validate(token, keys, self.now) {
            Ok(_) => json!({"ok": true, "code": null}),
            Err(e) => json!({"ok": false, "code": e.code()}),
        })
    }
}

fn main() -> io::Result<()> {
    let mut state = State {
        keys: None,
        validator: AccessTokenValidator {
            issuer: String::new(),
            audiences: Vec::new(),
            leeway_secs: 0,
            accept_jwt_typ: false,
            profile: Default::default(),
        },
        now: 0,
    };
    let stdin = io::stdin();
    let mut out = BufWriter::new(io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let verdict = state.verdict(&line).unwrap_or_else(|e| json!({"ok": false, "code": null, "error": e}));
        writeln!(out, "{verdict}")?;
    }
    out.flush()
}
