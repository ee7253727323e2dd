//! Conversations with call messages and their transcripts.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Changes, TokenInfo, World};
use crate::error::SimError;
use crate::util::{from_ms, iso};

/// One transcribed sentence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sentence {
    /// Audio channel (1 = caller, 2 = callee).
    pub media_channel: u8,
    /// Spoken text.
    pub transcript: String,
}

/// A call to put in a contact's conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallSpec {
    /// The contact.
    pub contact_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Length in seconds.
    pub duration_s: u32,
    /// `completed`, `voicemail`, `no-answer`, `busy`, ...
    pub status: String,
    /// Transcript sentences, in order.
    #[serde(default)]
    pub transcript: Vec<Sentence>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConversationRecord {
    pub(crate) id: String,
    pub(crate) contact_id: String,
    pub(crate) last_message_body: String,
    pub(crate) last_message_type: String,
    pub(crate) updated_ms: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MessageRecord {
    pub(crate) id: String,
    pub(crate) conversation_id: String,
    pub(crate) contact_id: String,
    pub(crate) direction: String,
    pub(crate) status: String,
    pub(crate) body: String,
    pub(crate) duration_s: u32,
    pub(crate) created_ms: i64,
    pub(crate) transcript: Vec<Sentence>,
}

impl MessageRecord {
    fn render(&self, location_id: &str) -> Value {
        json!({
            "id": self.id,
            "type": 1,
            "messageType": "TYPE_CALL",
            "locationId": location_id,
            "contactId": self.contact_id,
            "conversationId": self.conversation_id,
            "dateAdded": iso(from_ms(self.created_ms)),
            "body": self.body,
            "direction": self.direction,
            "status": "delivered",
            "contentType": "text/plain",
            "attachments": [],
            // GHL's REST spec types callDuration as a string; webhooks send a number.
            "meta": {"callDuration": self.duration_s.to_string(), "callStatus": self.status},
            "source": "app",
        })
    }
}

impl World {
    /// Records a call on a contact (creating the phone conversation if needed) and sends
    /// the `InboundMessage` / `OutboundMessage` webhook GHL sends for calls.
    pub fn add_call(
        &mut self,
        location_id: &str,
        call: &CallSpec,
        changes: &mut Changes,
    ) -> Result<(String, String), SimError> {
        let conversation_id = self.new_id();
        let message_id = self.new_id();
        let location = self.location_mut(location_id)?;
        if !location.contacts.contains_key(&call.contact_id) {
            return Err(SimError::bad_request("Contact not found"));
        }
        let now = location.creation_ms();
        let conversation_id = location
            .conversations
            .values()
            .find(|c| c.contact_id == call.contact_id)
            .map_or(conversation_id, |c| c.id.clone());
        let body = format!("Call {} ({} s)", call.direction, call.duration_s);
        let conversation = location
            .conversations
            .entry(conversation_id.clone())
            .or_insert(ConversationRecord {
                id: conversation_id.clone(),
                contact_id: call.contact_id.clone(),
                last_message_body: String::new(),
                last_message_type: "TYPE_CALL".into(),
                updated_ms: now,
            });
        conversation.last_message_body = body.clone();
        conversation.updated_ms = now;
        location.messages.insert(
            message_id.clone(),
            MessageRecord {
                id: message_id.clone(),
                conversation_id: conversation_id.clone(),
                contact_id: call.contact_id.clone(),
                direction: call.direction.clone(),
                status: call.status.clone(),
                body,
                duration_s: call.duration_s,
                created_ms: now,
                transcript: call.transcript.clone(),
            },
        );
        let event = if call.direction == "inbound" {
            "InboundMessage"
        } else {
            "OutboundMessage"
        };
        let mut payload = json!({
            "attachments": [],
            "contactId": call.contact_id,
            "conversationId": conversation_id,
            "dateAdded": iso(from_ms(now)),
            "direction": call.direction,
            "messageType": "CALL",
            "messageId": message_id,
            "status": call.status,
        });
        if call.status != "voicemail" {
            payload["callDuration"] = json!(call.duration_s);
            payload["callStatus"] = json!(call.status);
        }
        changes.emit(
            event,
            location_id,
            payload.as_object().cloned().unwrap_or_default(),
        );
        let location_id = location_id.to_owned();
        self.index_object(&conversation_id, &location_id);
        self.index_object(&message_id, &location_id);
        Ok((conversation_id, message_id))
    }

    /// `GET /conversations/search?locationId&contactId`.
    pub fn search_conversations(
        &mut self,
        auth: &TokenInfo,
        location_id: &str,
        contact_id: Option<&str>,
    ) -> Result<Value, SimError> {
        let location = self.authorized_location(auth, Some(location_id))?;
        let found: Vec<Value> = location
            .conversations
            .values()
            .filter(|c| contact_id.is_none_or(|id| c.contact_id == id))
            .map(|c| {
                let contact = location.contacts.get(&c.contact_id);
                let name = contact
                    .map(|k| {
                        [k.first_name.as_deref(), k.last_name.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                json!({
                    "id": c.id,
                    "contactId": c.contact_id,
                    "locationId": location.id,
                    "lastMessageBody": c.last_message_body,
                    "lastMessageType": c.last_message_type,
                    "type": "TYPE_PHONE",
                    "unreadCount": 0,
                    "fullName": name,
                    "contactName": name,
                    "email": contact.and_then(|k| k.email.clone()).unwrap_or_default(),
                    "phone": contact.and_then(|k| k.phone.clone()).unwrap_or_default(),
                })
            })
            .collect();
        let total = found.len();
        Ok(json!({ "conversations": found, "total": total }))
    }

    /// `GET /conversations/{id}/messages`, newest first, paged by `lastMessageId`.
    pub fn list_messages(
        &mut self,
        auth: &TokenInfo,
        conversation_id: &str,
        last_message_id: Option<&str>,
        limit: usize,
        types: Option<&str>,
    ) -> Result<Value, SimError> {
        let wrap = self.wrap_message_lists;
        let location = self.location_of_object(auth, conversation_id, "Conversation")?;
        let mut messages: Vec<&MessageRecord> = location
            .messages
            .values()
            .filter(|m| m.conversation_id == conversation_id)
            .collect();
        if let Some(types) = types
            && !types.split(',').any(|t| t.trim() == "TYPE_CALL")
        {
            messages.clear();
        }
        messages.reverse();
        let start = match last_message_id {
            Some(id) => messages
                .iter()
                .position(|m| m.id == id)
                .map_or(messages.len(), |p| p + 1),
            None => 0,
        };
        let page: Vec<&MessageRecord> = messages
            .iter()
            .skip(start)
            .take(limit.max(1))
            .copied()
            .collect();
        let next_page = start + page.len() < messages.len();
        let inner = json!({
            "lastMessageId": page.last().map(|m| m.id.clone()).unwrap_or_default(),
            "nextPage": next_page,
            "messages": page.iter().map(|m| m.render(&location.id)).collect::<Vec<_>>(),
        });
        Ok(if wrap {
            json!({ "messages": inner })
        } else {
            inner
        })
    }

    /// `GET .../messages/{id}/transcription/download`: one sentence per line.
    pub fn transcription_text(
        &mut self,
        auth: &TokenInfo,
        location_id: &str,
        message_id: &str,
    ) -> Result<String, SimError> {
        let location = self.authorized_location(auth, Some(location_id))?;
        let message = location
            .messages
            .get(message_id)
            .ok_or_else(|| SimError::bad_request("Message not found"))?;
        if message.transcript.is_empty() {
            return Err(SimError::bad_request("Transcription not found"));
        }
        Ok(message
            .transcript
            .iter()
            .map(|s| s.transcript.as_str())
            .collect::<Vec<_>>()
            .join("\n"))
    }
}
