//! Parameterised SQL for D1, as the pure modules write it and `edge::d1` runs it (one batch = one
//! transaction). Both the ledger and the authorization server's store speak it.

/// A value bound to a statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// TEXT.
    Text(String),
    /// INTEGER (D1 carries it as a JavaScript number: exact up to 2^53).
    Int(i64),
    /// NULL.
    Null,
}

/// One parameterised statement; `?N` in `sql` is `params[N-1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL, a constant: values only ever travel as parameters.
    pub sql: &'static str,
    /// The values of `?1`, `?2`, …
    pub params: Vec<SqlValue>,
}

/// The parameters as SQLite values, for the native tests that run the SQL on SQLite.
#[cfg(feature = "sqlite")]
pub fn sqlite_values(params: &[SqlValue]) -> Vec<rusqlite::types::Value> {
    params
        .iter()
        .map(|p| match p {
            SqlValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
            SqlValue::Int(i) => rusqlite::types::Value::Integer(*i),
            SqlValue::Null => rusqlite::types::Value::Null,
        })
        .collect()
}

/// Runs `statements` in one transaction, as a D1 batch does: the rows each changed.
#[cfg(feature = "sqlite")]
pub fn run_batch(c: &mut rusqlite::Connection, statements: &[Statement]) -> Vec<usize> {
    let tx = c.transaction().expect("transaction");
    let changes = statements
        .iter()
        .map(|s| tx.execute(s.sql, rusqlite::params_from_iter(sqlite_values(&s.params))).expect(s.sql))
        .collect();
    tx.commit().expect("commit");
    changes
}
