//! Notes on a contact.

#[cfg(feature = "client")]
use reqwest::Method;
use serde::{Deserialize, Serialize};

#[cfg(feature = "client")]
use crate::client::{Client, Page, Response};
#[cfg(feature = "client")]
use crate::contacts::Created;
use crate::de::{AgentId, ContactId, NoteId, opt_id, opt_text};
#[cfg(feature = "client")]
use crate::error::Error;

/// A note to add.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewNote {
    /// The text.
    pub note: String,
    /// The agent it is from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<AgentId>,
}

/// A stored note.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Note {
    /// Its id.
    pub id: NoteId,
    /// The contact.
    #[serde(default, deserialize_with = "opt_id")]
    pub contact_id: Option<ContactId>,
    /// The agent.
    #[serde(default, deserialize_with = "opt_id")]
    pub user_id: Option<AgentId>,
    /// The text.
    #[serde(default, deserialize_with = "opt_text")]
    pub note: Option<String>,
    /// When it was made.
    #[serde(default, deserialize_with = "opt_text")]
    pub created: Option<String>,
}

#[cfg(feature = "client")]
#[derive(Deserialize)]
struct NoteRow {
    #[serde(rename = "ContactNote")]
    note: Note,
}

/// Filters of `GET /notes/index.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NoteQuery {
    /// Notes of this contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    /// Notes of this agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<AgentId>,
    /// Text in the note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Page, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size, 1 to 1,000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[cfg(feature = "client")]
impl Client {
    /// `PUT /notes/add/{contactId}.json`.
    pub async fn add_note(
        &self,
        contact: ContactId,
        note: &NewNote,
    ) -> Result<Response<NoteId>, Error> {
        let answer: Response<Created<NoteId>> = self
            .send(
                self.request(Method::PUT, &format!("notes/add/{contact}.json"))
                    .json(note),
            )
            .await?;
        Ok(answer.map(|created| created.data.id))
    }

    /// `GET /notes/index.json`.
    pub async fn list_notes(&self, query: &NoteQuery) -> Result<Response<Page<Note>>, Error> {
        let answer: Response<Page<NoteRow>> = self
            .send(self.request(Method::GET, "notes/index.json").query(query))
            .await?;
        Ok(answer.map(|page| page.map(|r| r.note)))
    }
}
