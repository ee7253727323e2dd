//! Activities: a contact's timeline of events in other systems (orders, tickets, ...).
//! CloudTalk has no "call" type; an outside system's event is usually `other`.

#[cfg(feature = "client")]
use reqwest::Method;
use serde::{Deserialize, Serialize};

#[cfg(feature = "client")]
use crate::client::{Client, Page, Response};
#[cfg(feature = "client")]
use crate::contacts::Created;
use crate::de::{ActivityId, ContactId, opt_id, opt_text};
#[cfg(feature = "client")]
use crate::error::Error;

/// The activity types CloudTalk knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActivityType {
    /// An order.
    Order,
    /// A task.
    Task,
    /// A chat.
    Chat,
    /// A ticket.
    Ticket,
    /// Anything else.
    Other,
    /// An invoice.
    Invoice,
    /// A proforma invoice.
    Proforma,
    /// An estimate.
    Estimate,
    /// A cancellation.
    Cancel,
}

/// An activity to add (`type` and `name` are required).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewActivity {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ActivityType,
    /// Its title.
    pub name: String,
    /// When it happened (ISO 8601); CloudTalk's company time now when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_date: Option<String>,
    /// Details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who did it, as shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_author: Option<String>,
    /// The event's id in the other system (an integer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<u64>,
    /// A link to it there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
}

/// A stored activity.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Activity {
    /// Its id.
    pub id: ActivityId,
    /// The contact.
    #[serde(default, deserialize_with = "opt_id")]
    pub contact_id: Option<ContactId>,
    /// Its type, as sent.
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// Its title.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// Details.
    #[serde(default, deserialize_with = "opt_text")]
    pub description: Option<String>,
    /// The id in the other system.
    #[serde(default, deserialize_with = "opt_text")]
    pub external_id: Option<String>,
    /// The link there.
    #[serde(default, deserialize_with = "opt_text")]
    pub external_url: Option<String>,
    /// When it happened.
    #[serde(default, deserialize_with = "opt_text")]
    pub activity_date: Option<String>,
}

#[cfg(feature = "client")]
#[derive(Deserialize)]
struct ActivityRow {
    #[serde(rename = "ContactActivity")]
    activity: Activity,
}

/// Filters of `GET /activity/index.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ActivityQuery {
    /// Activities of this contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    /// Activities of this type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ActivityType>,
    /// Page, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size, 1 to 1,000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[cfg(feature = "client")]
impl Client {
    /// `PUT /activity/add/{contactId}.json`.
    pub async fn add_activity(
        &self,
        contact: ContactId,
        activity: &NewActivity,
    ) -> Result<Response<ActivityId>, Error> {
        let answer: Response<Created<ActivityId>> = self
            .send(
                self.request(Method::PUT, &format!("activity/add/{contact}.json"))
                    .json(activity),
            )
            .await?;
        Ok(answer.map(|created| created.data.id))
    }

    /// `GET /activity/index.json`.
    pub async fn list_activities(
        &self,
        query: &ActivityQuery,
    ) -> Result<Response<Page<Activity>>, Error> {
        let answer: Response<Page<ActivityRow>> = self
            .send(
                self.request(Method::GET, "activity/index.json")
                    .query(query),
            )
            .await?;
        Ok(answer.map(|page| page.map(|r| r.activity)))
    }
}
