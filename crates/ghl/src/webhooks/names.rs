//! Which event a webhook is, when its `type` does not say.
//!
//! GHL's documents name 58 events, but the example payloads of 21 of them carry no `type`
//! (invoices, products, prices, custom-object schemas, records, associations, relations),
//! and a few use `type` for something else (a price's `one_time`, a conversation provider's
//! `SMS` or `Email`). A receiver must keep all of them; these names say what they are as
//! far as their fields tell. Where the fields show the family but not the verb (an invoice
//! created, sent or paid has the same shape), the name is the family's.

use serde_json::{Map, Value};

/// Every `type` value GHL's webhook documents give their events (`docs/webhook events/`).
pub const DOCUMENTED: &[&str] = &[
    "INSTALL",
    "UNINSTALL",
    "PLAN_CHANGE",
    "AppointmentCreate",
    "AppointmentDelete",
    "AppointmentUpdate",
    "AssociationCreate",
    "AssociationDelete",
    "AssociationUpdate",
    "CampaignStatusUpdate",
    "ContactCreate",
    "ContactDelete",
    "ContactDndUpdate",
    "ContactTagUpdate",
    "ContactUpdate",
    "ConversationUnreadUpdate",
    "InboundMessage",
    "InvoiceCreate",
    "InvoiceDelete",
    "InvoicePaid",
    "InvoicePartiallyPaid",
    "InvoiceSent",
    "InvoiceUpdate",
    "InvoiceVoid",
    "LCEmailStats",
    "LocationCreate",
    "LocationUpdate",
    "NoteCreate",
    "NoteDelete",
    "NoteUpdate",
    "ObjectSchemaCreate",
    "ObjectSchemaUpdate",
    "OpportunityAssignedToUpdate",
    "OpportunityCreate",
    "OpportunityDelete",
    "OpportunityMonetaryValueUpdate",
    "OpportunityStageUpdate",
    "OpportunityStatusUpdate",
    "OpportunityUpdate",
    "OrderCreate",
    "OrderStatusUpdate",
    "OutboundMessage",
    "PriceCreate",
    "PriceDelete",
    "PriceUpdate",
    "ProductCreate",
    "ProductDelete",
    "ProductUpdate",
    "ProviderOutboundMessage",
    "RecordCreate",
    "RecordDelete",
    "RecordUpdate",
    "RelationCreate",
    "RelationDelete",
    "TaskComplete",
    "TaskCreate",
    "TaskDelete",
    "UserCreate",
];

/// The family a payload's fields show, from the documented schemas: each test names fields
/// that only that family's payloads carry.
pub fn family(payload: &Map<String, Value>) -> Option<&'static str> {
    let has = |key: &str| payload.contains_key(key);
    let text = |key: &str| payload.get(key).and_then(Value::as_str);
    if has("invoiceNumber") || has("invoiceItems") {
        Some("Invoice")
    } else if has("associationId") && has("firstRecordId") {
        Some("Relation")
    } else if has("associationType") || (has("firstObjectKey") && has("secondObjectKey")) {
        Some("Association")
    } else if has("primaryDisplayProperty") || has("searchableProperties") {
        Some("ObjectSchema")
    } else if has("owners") || has("followers") {
        Some("Record")
    } else if has("productType") || has("variants") {
        Some("Product")
    } else if text("product").is_some() && has("amount") && has("currency") {
        Some("Price")
    } else if matches!(text("type"), Some("SMS" | "Email"))
        && has("messageId")
        && !has("conversationId")
    {
        // A conversation provider's delivery: `type` is the channel.
        Some("ProviderOutboundMessage")
    } else {
        None
    }
}
