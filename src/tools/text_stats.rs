//! `text_stats`: word, sentence and reading-time statistics for a text. Paid: needs `pro`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use mkit::mcp::{Tool, ToolContext, ToolError, ToolInfo};
use mkit::price::Priced;

pub struct TextStats;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The text to analyse (at most 100,000 characters).
    pub text: String,
    /// Reading speed in words per minute; defaults to 230.
    #[serde(default)]
    pub words_per_minute: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
pub struct Output {
    pub characters: usize,
    pub words: usize,
    pub sentences: usize,
    pub unique_words: usize,
    /// Estimated reading time in seconds.
    pub reading_seconds: u64,
}

impl Tool for TextStats {
    type Input = Input;
    type Output = Output;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("text_stats", "Counts characters, words, sentences and unique words, and estimates reading time.")
            .title("Text statistics")
            .read_only()
            .entitlement("pro")
    }

    async fn call(&self, _ctx: &ToolContext<'_>, input: Input) -> Result<Output, ToolError> {
        if input.text.chars().count() > 100_000 {
            return Err(ToolError::new("text is longer than 100,000 characters"));
        }
        let wpm = u64::from(input.words_per_minute.unwrap_or(230));
        if wpm == 0 {
            return Err(ToolError::new("words_per_minute must be at least 1"));
        }
        let words: Vec<String> = input
            .text
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        let mut unique = words.clone();
        unique.sort_unstable();
        unique.dedup();
        let sentences = input.text.split(['.', '!', '?']).filter(|s| s.chars().any(char::is_alphanumeric)).count();
        Ok(Output {
            characters: input.text.chars().count(),
            words: words.len(),
            sentences,
            unique_words: unique.len(),
            reading_seconds: (words.len() as u64 * 60).div_ceil(wpm),
        })
    }
}
