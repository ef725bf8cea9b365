//! `remember`: keeps short notes per user in D1 and returns the latest ones. Shows how a tool
//! uses the platform's database through the request context (`ctx.platform()`), with plain SQL
//! statements that the native tests run on SQLite.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use mkit::mcp::{Annotations, Tool, ToolContext, ToolError, ToolInfo};
use mkit::sql::{SqlValue, Statement};

pub struct Remember;

const MAX_NOTE_CHARS: usize = 2000;
const LATEST: u32 = 20;
/// Notes kept per user: storing one more forgets the oldest, so no caller can fill the database.
pub const KEPT: u32 = 100;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// A note to store (at most 2,000 characters; your latest 100 are kept). Omit it to only list your notes.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Note {
    pub text: String,
    /// Unix time in milliseconds.
    pub created_at: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct Output {
    /// Whether a note was stored by this call.
    pub stored: bool,
    /// Your latest notes, newest first (at most 20).
    pub notes: Vec<Note>,
}

impl Tool for Remember {
    type Input = Input;
    type Output = Output;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("remember", "Stores a short note for you and returns your latest notes, newest first.")
            .title("Remember a note")
            .annotations(Annotations {
                read_only_hint: Some(false),
                destructive_hint: Some(false),
                idempotent_hint: Some(false),
                open_world_hint: Some(false),
            })
    }

    async fn call(&self, ctx: &ToolContext<'_>, input: Input) -> Result<Output, ToolError> {
        let owner = ctx.principal.sub.as_str();
        let note = input.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
            return Err(ToolError::new(format!("a note is at most {MAX_NOTE_CHARS} characters")));
        }
        let platform = ctx.platform()?;
        if let Some(text) = &note {
            let now = platform.now_ms() as i64;
            platform.batch(vec![insert(owner, text, now), trim(owner)]).await?;
        }
        let rows = platform.query(latest(owner)).await?;
        let notes = rows
            .into_iter()
            .map(serde_json::from_value::<Note>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ToolError::new("notes storage answered in an unexpected shape"))?;
        Ok(Output { stored: note.is_some(), notes })
    }
}

fn insert(owner: &str, text: &str, now_ms: i64) -> Statement {
    Statement {
        sql: "INSERT INTO notes (owner, text, created_at) VALUES (?1, ?2, ?3)",
        params: vec![SqlValue::Text(owner.to_owned()), SqlValue::Text(text.to_owned()), SqlValue::Int(now_ms)],
    }
}

/// Forgets all but the owner's latest `KEPT` notes.
fn trim(owner: &str) -> Statement {
    Statement {
        sql: "DELETE FROM notes WHERE owner = ?1 AND id NOT IN \
              (SELECT id FROM notes WHERE owner = ?1 ORDER BY id DESC LIMIT ?2)",
        params: vec![SqlValue::Text(owner.to_owned()), SqlValue::Int(i64::from(KEPT))],
    }
}

fn latest(owner: &str) -> Statement {
    Statement {
        sql: "SELECT text, created_at FROM notes WHERE owner = ?1 ORDER BY id DESC LIMIT ?2",
        params: vec![SqlValue::Text(owner.to_owned()), SqlValue::Int(i64::from(LATEST))],
    }
}
