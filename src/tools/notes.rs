//! `remember`: keeps short notes per user in D1 and returns the latest ones. Shows how a tool
//! uses a Worker binding (`DB`) through the request context.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mcp::{Annotations, Tool, ToolContext, ToolError, ToolInfo};

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
        let db = super::env(ctx)?
            .d1(crate::bindings::Binding::Db.name())
            .map_err(|_| ToolError::new("the DB binding is not configured"))?;
        let unavailable = |_| ToolError::new("notes storage is unavailable; try again");
        if let Some(text) = &note {
            let insert = db
                .prepare("INSERT INTO notes (owner, text, created_at) VALUES (?1, ?2, ?3)")
                .bind(&[owner.into(), text.as_str().into(), (worker::Date::now().as_millis() as f64).into()])
                .map_err(unavailable)?;
            let trim = db
                .prepare(
                    "DELETE FROM notes WHERE owner = ?1 AND id NOT IN \
                     (SELECT id FROM notes WHERE owner = ?1 ORDER BY id DESC LIMIT ?2)",
                )
                .bind(&[owner.into(), KEPT.into()])
                .map_err(unavailable)?;
            db.batch(vec![insert, trim]).await.map_err(unavailable)?;
        }
        let notes = db
            .prepare("SELECT text, created_at FROM notes WHERE owner = ?1 ORDER BY id DESC LIMIT ?2")
            .bind(&[owner.into(), LATEST.into()])
            .map_err(unavailable)?
            .all()
            .await
            .map_err(unavailable)?
            .results::<Note>()
            .map_err(unavailable)?;
        Ok(Output { stored: note.is_some(), notes })
    }
}
