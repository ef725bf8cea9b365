//! Parameterised SQL for D1, as the pure modules write it and `edge::d1` runs it (one batch = one
//! transaction). Both the ledger and the authorization server's store speak it.

/// A value bound to a statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Null,
}

/// One parameterised statement; `?N` in `sql` is `params[N-1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: &'static str,
    pub params: Vec<SqlValue>,
}

/// The parameters as SQLite values, for the native tests that run the SQL on SQLite.
#[cfg(test)]
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
