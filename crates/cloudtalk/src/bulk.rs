//! `POST /bulk/contacts.json`: up to 10 contact, note and activity commands in one request,
//! each answered with its own status, so one refused command fails alone. Each command
//! carries a `command_id` the caller chooses; answers are matched to commands by it, not
//! by position (CloudTalk's own example answers with an id that differs from its request's).

#[cfg(feature = "client")]
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::activities::NewActivity;
#[cfg(feature = "client")]
use crate::client::{Client, Response};
use crate::contacts::ContactInput;
use crate::de::{ActivityId, ContactId, NoteId, opt_text};
#[cfg(feature = "client")]
use crate::error::Error;

/// Most commands in one request.
pub const MAX_COMMANDS: usize = 10;

/// What a command does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `add_contact`.
    AddContact(ContactInput),
    /// `edit_contact`: the contact's collections given are replaced.
    EditContact(ContactId, ContactInput),
    /// `delete_contact`.
    DeleteContact(ContactId),
    /// `add_note` (`user_id` from the note).
    AddNote(ContactId, crate::notes::NewNote),
    /// `edit_note`.
    EditNote(NoteId, ContactId, crate::notes::NewNote),
    /// `delete_note`.
    DeleteNote(NoteId),
    /// `add_activity`.
    AddActivity(ContactId, NewActivity),
    /// `edit_activity`.
    EditActivity(ActivityId, ContactId, NewActivity),
    /// `delete_activity`.
    DeleteActivity(ActivityId),
}

impl Action {
    /// The action's name in the API.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AddContact(_) => "add_contact",
            Self::EditContact(..) => "edit_contact",
            Self::DeleteContact(_) => "delete_contact",
            Self::AddNote(..) => "add_note",
            Self::EditNote(..) => "edit_note",
            Self::DeleteNote(_) => "delete_note",
            Self::AddActivity(..) => "add_activity",
            Self::EditActivity(..) => "edit_activity",
            Self::DeleteActivity(_) => "delete_activity",
        }
    }

    /// The command's `data`.
    fn data(&self) -> Map<String, Value> {
        let with = |mut map: Map<String, Value>, pairs: &[(&str, Value)]| {
            for (k, v) in pairs {
                map.insert((*k).to_owned(), v.clone());
            }
            map
        };
        let object = |v: Value| match v {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        match self {
            Self::AddContact(c) => c.to_json(),
            Self::EditContact(id, c) => with(c.to_json(), &[("id", json!(id))]),
            Self::DeleteContact(id) => with(Map::new(), &[("id", json!(id))]),
            Self::AddNote(contact, note) => {
                with(object(json!(note)), &[("contact_id", json!(contact))])
            }
            Self::EditNote(id, contact, note) => with(
                object(json!(note)),
                &[("id", json!(id)), ("contact_id", json!(contact))],
            ),
            Self::DeleteNote(id) => with(Map::new(), &[("id", json!(id))]),
            Self::AddActivity(contact, activity) => {
                with(object(json!(activity)), &[("contact_id", json!(contact))])
            }
            Self::EditActivity(id, contact, activity) => with(
                object(json!(activity)),
                &[("id", json!(id)), ("contact_id", json!(contact))],
            ),
            Self::DeleteActivity(id) => with(Map::new(), &[("id", json!(id))]),
        }
    }
}

/// One command of a bulk request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The caller's id for it, unique within the request (keep it stable across retries).
    pub command_id: String,
    /// What it does.
    pub action: Action,
}

impl Serialize for Command {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json!({
            "action": self.action.name(),
            "command_id": self.command_id,
            "data": self.action.data(),
        })
        .serialize(s)
    }
}

/// How CloudTalk answered one command: 201 for an add (with the new id), 200 for an edit
/// or a delete, an error status with a message otherwise.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CommandResult {
    /// The command's id.
    #[serde(deserialize_with = "crate::de::null_default")]
    pub command_id: String,
    /// Its status.
    #[serde(deserialize_with = "status")]
    pub status: u16,
    /// The error message, for a failed command.
    #[serde(default, deserialize_with = "opt_text")]
    pub message: Option<String>,
    /// The new id (adds) or what explains the error.
    #[serde(default)]
    pub data: Value,
}

impl CommandResult {
    /// True when CloudTalk applied the command.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The id an add created.
    pub fn created_id(&self) -> Option<u64> {
        match self.data.get("id")? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// A status as a number or a string of digits (the spec types it as a string).
fn status<'de, D: serde::Deserializer<'de>>(de: D) -> Result<u16, D::Error> {
    match Value::deserialize(de)? {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| serde::de::Error::custom("a status out of range")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a status"))),
        other => Err(serde::de::Error::custom(format!("{other} is not a status"))),
    }
}

#[cfg(feature = "client")]
#[derive(Deserialize)]
struct Answer {
    #[serde(default, deserialize_with = "crate::de::null_default")]
    data: Vec<CommandResult>,
}

#[cfg(feature = "client")]
impl Client {
    /// `POST /bulk/contacts.json`: the commands in one request (at most [`MAX_COMMANDS`]);
    /// the answer has one result per command, matched by `command_id`.
    pub async fn bulk(&self, commands: &[Command]) -> Result<Response<Vec<CommandResult>>, Error> {
        if commands.is_empty() || commands.len() > MAX_COMMANDS {
            return Err(Error::TooManyCommands(commands.len()));
        }
        let answer: Response<Answer> = self
            .send(
                self.request(Method::POST, "bulk/contacts.json")
                    .json(commands),
            )
            .await?;
        Ok(answer.map(|a| a.data))
    }
}
