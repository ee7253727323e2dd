//! Conversations, messages (per conversation, or exported location-wide) and call
//! transcriptions (`apps/conversations.json`,
//! `Version: 2021-04-15`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::de::null_default;
use crate::ids::{ContactId, ConversationId, LocationId, MessageId};

/// A conversation (search result shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// Conversation id.
    pub id: ConversationId,
    /// Contact.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Location.
    #[serde(default)]
    pub location_id: Option<LocationId>,
    /// Body of the last message.
    #[serde(default)]
    pub last_message_body: Option<String>,
    /// Type of the last message, e.g. `TYPE_CALL`.
    #[serde(default)]
    pub last_message_type: Option<String>,
    /// Conversation type, e.g. `TYPE_PHONE`.
    #[serde(default, rename = "type")]
    pub conversation_type: Option<String>,
    /// Unread messages.
    #[serde(default)]
    pub unread_count: Option<f64>,
    /// Every other field GHL sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A page of conversations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationPage {
    /// The conversations.
    #[serde(default, deserialize_with = "null_default")]
    pub conversations: Vec<Conversation>,
    /// Total matches.
    #[serde(default)]
    pub total: u64,
}

/// Call details of a message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageMeta {
    /// Call length in seconds (GHL's spec types it as a string, payloads send a number).
    #[serde(default)]
    pub call_duration: Option<Value>,
    /// `completed`, `voicemail`, `no-answer`, ...
    #[serde(default)]
    pub call_status: Option<String>,
    /// Every other field GHL sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl MessageMeta {
    /// The call length in seconds, whichever way GHL typed it.
    pub fn call_seconds(&self) -> Option<f64> {
        match self.call_duration.as_ref()? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// A message of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Message id.
    pub id: MessageId,
    /// Numeric type (1 = call, 10 = voicemail per GHL's spec).
    #[serde(default, rename = "type")]
    pub type_code: Option<f64>,
    /// Named type, e.g. `TYPE_CALL`.
    #[serde(default)]
    pub message_type: Option<String>,
    /// Location.
    #[serde(default)]
    pub location_id: Option<LocationId>,
    /// Contact.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Conversation.
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
    /// Time.
    #[serde(default)]
    pub date_added: Option<String>,
    /// Text.
    #[serde(default)]
    pub body: Option<String>,
    /// `inbound` or `outbound`.
    #[serde(default)]
    pub direction: Option<String>,
    /// Delivery status.
    #[serde(default)]
    pub status: Option<String>,
    /// Call details.
    #[serde(default)]
    pub meta: Option<MessageMeta>,
    /// Every other field GHL sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Message {
    /// True for calls (GHL's `TYPE_CALL`, or numeric type 1).
    pub fn is_call(&self) -> bool {
        self.message_type.as_deref() == Some("TYPE_CALL") || self.type_code == Some(1.0)
    }
}

/// A page of messages, oldest cursor last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    /// Cursor for the next page.
    #[serde(default)]
    pub last_message_id: Option<MessageId>,
    /// True when more pages follow.
    #[serde(default)]
    pub next_page: bool,
    /// The messages.
    #[serde(default, deserialize_with = "null_default")]
    pub messages: Vec<Message>,
}

/// GHL documents `{lastMessageId, nextPage, messages: [...]}` but answers
/// `{messages: {lastMessageId, nextPage, messages: [...]}}`; both are accepted.
#[derive(Deserialize)]
#[serde(untagged)]
#[cfg_attr(not(feature = "client"), allow(dead_code))]
enum MessagesBody {
    Wrapped { messages: MessagePage },
    Documented(MessagePage),
}

/// Query of `GET /conversations/{id}/messages`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQuery {
    /// Cursor from the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message_id: Option<MessageId>,
    /// Page size (GHL's default is 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Comma-separated message types, e.g. `TYPE_CALL`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
}

/// Which messages `GET /conversations/messages/export` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageChannel {
    /// Calls.
    Call,
    /// Text messages.
    #[serde(rename = "SMS")]
    Sms,
    /// Email.
    Email,
    /// WhatsApp.
    WhatsApp,
    /// Instagram.
    Instagram,
    /// Facebook.
    Facebook,
}

/// Query of `GET /conversations/messages/export`: a location's messages across
/// conversations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageExport {
    /// The location (required).
    pub location_id: LocationId,
    /// Page size, 10 to 500 (GHL's default is 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The previous page's `nextCursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// `createdAt` (default) or `updatedAt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// `desc` (default) or `asc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<String>,
    /// Only this conversation's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// Only this contact's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    /// Only this channel; without it GHL lists every message but email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<MessageChannel>,
    /// Not before (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// Not after (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

impl MessageExport {
    /// Every message of a location, GHL's default page size at a time.
    pub fn new(location_id: impl Into<LocationId>) -> Self {
        Self {
            location_id: location_id.into(),
            limit: None,
            cursor: None,
            sort_by: None,
            sort_order: None,
            conversation_id: None,
            contact_id: None,
            channel: None,
            start_date: None,
            end_date: None,
        }
    }
}

/// A page of `GET /conversations/messages/export`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageExportPage {
    /// The messages.
    #[serde(default, deserialize_with = "null_default")]
    pub messages: Vec<Message>,
    /// The cursor of the next page; absent on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// Messages matching the query, over every page.
    #[serde(default)]
    pub total: u64,
}

#[cfg(feature = "client")]
mod calls {
    use super::*;
    use crate::client::{ApiVersion, Client, Response};
    use crate::error::Error;
    use reqwest::Method;

    const V: Option<ApiVersion> = Some(ApiVersion::V2021_04_15);

    impl Client {
        /// `GET /conversations/search` for one contact.
        pub async fn search_conversations(
            &self,
            location_id: &LocationId,
            contact_id: &ContactId,
        ) -> Result<Response<ConversationPage>, Error> {
            let rb = self
                .request(Method::GET, &["conversations", "search"], V)?
                .query(&[
                    ("locationId", location_id.as_str()),
                    ("contactId", contact_id.as_str()),
                ]);
            self.send_json(rb).await
        }

        /// `GET /conversations/{id}/messages`.
        pub async fn list_messages(
            &self,
            conversation_id: &ConversationId,
            query: &MessageQuery,
        ) -> Result<Response<MessagePage>, Error> {
            let rb = self
                .request(
                    Method::GET,
                    &["conversations", conversation_id.as_str(), "messages"],
                    V,
                )?
                .query(query);
            Ok(self
                .send_json::<MessagesBody>(rb)
                .await?
                .map(|body| match body {
                    MessagesBody::Wrapped { messages } | MessagesBody::Documented(messages) => {
                        messages
                    }
                }))
        }

        /// `GET /conversations/messages/export`: one page of a location's messages.
        pub async fn export_messages(
            &self,
            query: &MessageExport,
        ) -> Result<Response<MessageExportPage>, Error> {
            let rb = self
                .request(Method::GET, &["conversations", "messages", "export"], V)?
                .query(query);
            self.send_json(rb).await
        }

        /// `GET /conversations/locations/{loc}/messages/{id}/transcription/download`: the call
        /// transcript as plain text.
        pub async fn download_transcription(
            &self,
            location_id: &LocationId,
            message_id: &MessageId,
        ) -> Result<Response<String>, Error> {
            let rb = self
                .request(
                    Method::GET,
                    &[
                        "conversations",
                        "locations",
                        location_id.as_str(),
                        "messages",
                        message_id.as_str(),
                        "transcription",
                        "download",
                    ],
                    V,
                )?
                .header(reqwest::header::ACCEPT, "text/plain");
            self.send_text(rb).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_message_list_shapes_parse() {
        let documented = json!({"lastMessageId": "m2", "nextPage": true, "messages": [{"id": "m1"}, {"id": "m2"}]});
        let wrapped = json!({"messages": documented.clone()});
        for body in [documented, wrapped] {
            let parsed: MessagesBody = serde_json::from_value(body).unwrap();
            let (MessagesBody::Wrapped { messages } | MessagesBody::Documented(messages)) = parsed;
            assert_eq!(messages.messages.len(), 2);
            assert!(messages.next_page);
            assert_eq!(messages.last_message_id.unwrap().as_str(), "m2");
        }
    }

    #[test]
    fn call_duration_as_string_or_number() {
        let a: MessageMeta = serde_json::from_value(json!({"callDuration": "120"})).unwrap();
        let b: MessageMeta = serde_json::from_value(json!({"callDuration": 120})).unwrap();
        assert_eq!(a.call_seconds(), Some(120.0));
        assert_eq!(b.call_seconds(), Some(120.0));
    }
}
