//! GHL's webhook event documents as the simulator's tests and its users' tests read them:
//! every example payload of every document under `vendor/ghl-openapi/webhook-events/`,
//! byte for byte as GHL's documents give it (many carry no `type`, `webhookId` or
//! `timestamp`). A receiver that keeps every event GHL sends must keep all of these.

use std::path::{Path, PathBuf};

/// An example payload of a webhook event document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentedExample {
    /// The document's file name without `.md` (`InvoicePaid`, `AppInstall`, ...).
    pub document: String,
    /// Its place among the document's examples, from 0.
    pub index: usize,
    /// The example's JSON text.
    pub json: String,
}

/// The vendored webhook event documents of this repository.
pub fn webhook_events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/ghl-openapi/webhook-events")
}

/// Every example of every document in `dir`, in file-name order. Only blocks that parse as
/// JSON are examples (a few documents show field lists that are not JSON).
pub fn webhook_examples(dir: &Path) -> std::io::Result<Vec<DocumentedExample>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|f| f.extension().is_some_and(|e| e == "md"));
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let document = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let text = std::fs::read_to_string(&file)?;
        let blocks = json_blocks(&text)
            .into_iter()
            .filter(|b| serde_json::from_str::<serde_json::Value>(b).is_ok());
        for (index, json) in blocks.enumerate() {
            out.push(DocumentedExample {
                document: document.clone(),
                index,
                json,
            });
        }
    }
    Ok(out)
}

/// The `json` blocks of a markdown document that are examples (not `json_schema` blocks).
/// Some documents glue the opening brace to the fence (```` ```json{ ````); that brace is
/// part of the example.
fn json_blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("```json") {
        let after = &rest[start + 7..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let tag = &after[..line_end];
        let body_start = if tag.trim_start().starts_with('{') {
            0
        } else {
            line_end + 1
        };
        let body = &after[body_start.min(after.len())..];
        let end = body.find("```").unwrap_or(body.len());
        if !tag.contains("json_schema") {
            out.push(body[..end].trim().to_owned());
        }
        rest = &body[end.min(body.len())..];
        if rest.len() >= 3 {
            rest = &rest[3..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_has_its_examples() {
        let examples = webhook_examples(&webhook_events_dir()).unwrap();
        let documents: std::collections::BTreeSet<&str> =
            examples.iter().map(|e| e.document.as_str()).collect();
        assert_eq!(documents.len(), 58, "{documents:?}");
        assert!(examples.len() >= 66, "{}", examples.len());
        let glued = json_blocks("```json{\"a\":1}\n```\n```json json_schema\n{}\n```");
        assert_eq!(glued, vec!["{\"a\":1}"]);
    }
}
