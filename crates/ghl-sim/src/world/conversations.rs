//! Conversations with call messages and their transcripts.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Changes, TokenInfo, World};
use crate::error::SimError;
use crate::util::{from_ms, iso};

/// The query of `GET /conversations/messages/export`, as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageExportQuery {
    /// `locationId` (required).
    pub location_id: Option<String>,
    /// `limit`: 10 to 500, default 100.
    pub limit: Option<String>,
    /// `cursor`: the previous page's `nextCursor`.
    pub cursor: Option<String>,
    /// `sortBy`: `createdAt` (default) or `updatedAt`.
    pub sort_by: Option<String>,
    /// `sortOrder`: `desc` (default) or `asc`.
    pub sort_order: Option<String>,
    /// `conversationId`.
    pub conversation_id: Option<String>,
    /// `contactId`.
    pub contact_id: Option<String>,
    /// `channel`: `Call`, `SMS`, `Email`, `WhatsApp`, `Instagram` or `Facebook`.
    pub channel: Option<String>,
    /// `startDate`: ISO 8601 or milliseconds.
    pub start_date: Option<String>,
    /// `endDate`: ISO 8601 or milliseconds.
    pub end_date: Option<String>,
}

/// A time given as ISO 8601 or as Unix milliseconds.
fn parse_time_ms(raw: &str) -> Option<i64> {
    if let Ok(ms) = raw.trim().parse::<i64>() {
        return Some(ms);
    }
    let t = time::OffsetDateTime::parse(raw.trim(), &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn encode_cursor(at_ms: i64, id: &str) -> String {
    STANDARD.encode(json!({"lastSort": [at_ms], "lastId": id}).to_string())
}

fn decode_cursor(raw: &str) -> Result<(i64, String), SimError> {
    let bad = || SimError::bad_request("Invalid cursor");
    let bytes = STANDARD.decode(raw.trim()).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let at = v["lastSort"][0].as_i64().ok_or_else(bad)?;
    let id = v["lastId"].as_str().ok_or_else(bad)?.to_owned();
    Ok((at, id))
}

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

    /// `GET /conversations/messages/export`: a location's messages across conversations,
    /// newest first unless `sortOrder=asc`, paged by an opaque cursor (base64 JSON of the
    /// last message's sort value and id, the shape of GHL's own example cursor). The
    /// simulator's messages are calls, so a `channel` other than `Call` finds none, and no
    /// channel finds them all (GHL leaves out only email without one).
    pub fn export_messages(
        &mut self,
        auth: &TokenInfo,
        q: &MessageExportQuery,
    ) -> Result<Value, SimError> {
        let invalid = |m: String| SimError::unprocessable(vec![m]);
        let location_id = q
            .location_id
            .as_deref()
            .filter(|l| !l.trim().is_empty())
            .ok_or_else(|| invalid("locationId should not be empty".into()))?;
        let limit = match q.limit.as_deref() {
            None => 100,
            Some(raw) => match raw.trim().parse::<f64>() {
                Ok(n) if n < 10.0 => return Err(invalid("limit must not be less than 10".into())),
                Ok(n) if n > 500.0 => {
                    return Err(invalid("limit must not be greater than 500".into()));
                }
                Ok(n) => n as usize,
                Err(_) => {
                    return Err(invalid(
                        "limit must be a number conforming to the specified constraints".into(),
                    ));
                }
            },
        };
        let one_of = |name: &str, value: Option<&str>, allowed: &[&str]| match value {
            Some(v) if !allowed.contains(&v) => Err(invalid(format!(
                "{name} must be one of the following values: {}",
                allowed.join(", ")
            ))),
            _ => Ok(()),
        };
        one_of("sortBy", q.sort_by.as_deref(), &["createdAt", "updatedAt"])?;
        one_of("sortOrder", q.sort_order.as_deref(), &["asc", "desc"])?;
        one_of(
            "channel",
            q.channel.as_deref(),
            &["Call", "SMS", "Email", "WhatsApp", "Instagram", "Facebook"],
        )?;
        let bound = |name: &str, raw: Option<&str>| -> Result<Option<i64>, SimError> {
            raw.map(|r| parse_time_ms(r).ok_or_else(|| invalid(format!("{name} must be a date"))))
                .transpose()
        };
        let (from, to) = (
            bound("startDate", q.start_date.as_deref())?,
            bound("endDate", q.end_date.as_deref())?,
        );
        let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let ascending = q.sort_order.as_deref() == Some("asc");
        let location = self.authorized_location(auth, Some(location_id))?;
        let calls_wanted = q.channel.as_deref().is_none_or(|c| c == "Call");
        let mut matching: Vec<&MessageRecord> = location
            .messages
            .values()
            .filter(|_| calls_wanted)
            .filter(|m| {
                q.conversation_id
                    .as_deref()
                    .is_none_or(|c| m.conversation_id == c)
            })
            .filter(|m| q.contact_id.as_deref().is_none_or(|c| m.contact_id == c))
            .filter(|m| {
                from.is_none_or(|f| m.created_ms >= f) && to.is_none_or(|t| m.created_ms <= t)
            })
            .collect();
        matching.sort_by(|a, b| {
            let o = (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id));
            if ascending { o } else { o.reverse() }
        });
        let total = matching.len();
        let start = match &cursor {
            None => 0,
            Some((at, id)) => matching.partition_point(|m| {
                let key = (m.created_ms, m.id.as_str());
                if ascending {
                    key <= (*at, id.as_str())
                } else {
                    key >= (*at, id.as_str())
                }
            }),
        };
        let page: Vec<&MessageRecord> = matching.iter().skip(start).take(limit).copied().collect();
        let mut answer = json!({
            "messages": page.iter().map(|m| m.render(&location.id)).collect::<Vec<_>>(),
            "total": total,
        });
        if start + page.len() < total
            && let Some(last) = page.last()
        {
            answer["nextCursor"] = json!(encode_cursor(last.created_ms, &last.id));
        }
        Ok(answer)
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
