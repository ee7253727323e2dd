//! Finding contacts: `POST /contacts/search` (filters, sorting, `searchAfter` cursors) and
//! the deprecated `GET /contacts/` list that imports still page through.

use std::cmp::Ordering;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::contacts::as_object;
use super::{ContactRecord, TokenInfo, World};
use crate::error::SimError;
use crate::util::{from_ms, iso, normalize_phone};

impl ContactRecord {
    /// A value for search filters and sorting.
    fn search_value(&self, field: &str) -> Result<Value, SimError> {
        let s = |v: &Option<String>| {
            v.as_ref()
                .map_or(Value::Null, |s| Value::String(s.to_lowercase()))
        };
        Ok(match field {
            "id" => Value::String(self.id.clone()),
            "email" | "emailLowerCase" => s(&self.email),
            "phone" => s(&self.phone),
            "firstName" | "firstNameLowerCase" => s(&self.first_name),
            "lastName" | "lastNameLowerCase" => s(&self.last_name),
            "fullNameLowerCase" | "name" => s(&self.full_name()),
            "companyName" => s(&self.company_name),
            "source" => s(&self.source),
            "country" => s(&self.country),
            "city" => s(&self.city),
            "state" => s(&self.state),
            "postalCode" => s(&self.postal_code),
            "assignedTo" => s(&self.assigned_to),
            "tags" => json!(self.tags),
            "dnd" => Value::Bool(self.dnd),
            "dateAdded" => json!(self.created_ms),
            "dateUpdated" => json!(self.updated_ms),
            other => {
                let key = other
                    .strip_prefix("customFields.")
                    .or_else(|| other.strip_prefix("customField."))
                    .ok_or_else(|| {
                        SimError::unprocessable(vec![format!("{other} is not a searchable field")])
                    })?;
                self.custom_fields.get(key).cloned().unwrap_or(Value::Null)
            }
        })
    }
}

/// The query of the deprecated `GET /contacts/`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactListQuery {
    /// `locationId` (required).
    pub location_id: Option<String>,
    /// `limit`, as sent: at most 100, default 20.
    pub limit: Option<String>,
    /// `startAfter`: the `dateAdded` (ms) of the last contact of the previous page.
    pub start_after: Option<String>,
    /// `startAfterId`: the id of the last contact of the previous page.
    pub start_after_id: Option<String>,
    /// `query`: text in the name, email, phone or company.
    pub query: Option<String>,
}

impl ContactRecord {
    /// An item of the deprecated list, with the fields its live answers carry (the spec's
    /// `ContactsSearchSchema` lists fewer; see the faithfulness tests' observed extras).
    fn render_list_item(&self, location_id: &str) -> Value {
        let mut v = json!({
            "id": self.id,
            "locationId": location_id,
            "dnd": self.dnd,
            "type": self.contact_type.as_deref().unwrap_or("lead"),
            "tags": self.tags,
            "customFields": self.custom_fields.iter().map(|(id, value)| json!({"id": id, "value": value})).collect::<Vec<_>>(),
            "dateAdded": iso(from_ms(self.created_ms)),
            "dateUpdated": iso(from_ms(self.updated_ms)),
        });
        self.common(&mut v);
        if let Some(name) = self.full_name() {
            v["contactName"] = Value::String(name);
        }
        if let Some(tz) = &self.timezone {
            v["timezone"] = Value::String(tz.clone());
        }
        v
    }

    /// Whether the text of `query` (lower-case) is in the name, email, phone or company.
    fn matches_query(&self, query: &str) -> bool {
        [
            self.full_name(),
            self.email.clone(),
            self.phone.clone(),
            self.company_name.clone(),
        ]
        .iter()
        .flatten()
        .any(|h| h.to_lowercase().contains(query))
    }
}

impl World {
    /// `GET /contacts/` (deprecated, still served): newest first, as GHL's list answers
    /// (choice where the spec is silent: the v1 list this one continues is newest first),
    /// paged by `startAfter` + `startAfterId` of the previous page's last contact, with the
    /// `meta` block live GHL adds (`base` is the URL `nextPageUrl` starts with).
    pub fn list_contacts(
        &mut self,
        auth: &TokenInfo,
        q: &ContactListQuery,
        base: &str,
    ) -> Result<Value, SimError> {
        let location_id = q.location_id.as_deref().filter(|l| !l.trim().is_empty());
        let location_id = location_id.ok_or_else(|| {
            SimError::unprocessable(vec!["locationId should not be empty".to_owned()])
        })?;
        let number = |name: &str, raw: &Option<String>| -> Result<Option<f64>, SimError> {
            raw.as_deref()
                .map(|r| {
                    r.trim().parse::<f64>().map_err(|_| {
                        SimError::unprocessable(vec![format!(
                            "{name} must be a number conforming to the specified constraints"
                        )])
                    })
                })
                .transpose()
        };
        let limit = number("limit", &q.limit)?.unwrap_or(20.0);
        if limit > 100.0 {
            return Err(SimError::unprocessable(vec![
                "limit must not be greater than 100".to_owned(),
            ]));
        }
        let limit = (limit.max(1.0)) as usize;
        let start_after = number("startAfter", &q.start_after)?.map(|n| n as i64);
        let query = q.query.as_deref().map(str::to_lowercase);
        let location = self.authorized_location(auth, Some(location_id))?;
        let mut matching: Vec<&ContactRecord> = location
            .contacts
            .values()
            .filter(|c| query.as_deref().is_none_or(|q| c.matches_query(q)))
            .collect();
        matching.sort_by(|a, b| (b.created_ms, &b.id).cmp(&(a.created_ms, &a.id)));
        let total = matching.len();
        // After the cursor: older than its time, or as old with a smaller id.
        let cursor_time = start_after.or_else(|| {
            let id = q.start_after_id.as_deref()?;
            location.contacts.get(id).map(|c| c.created_ms)
        });
        let start = match cursor_time {
            None => 0,
            Some(at) => {
                let id = q.start_after_id.as_deref().unwrap_or("");
                matching.partition_point(|c| {
                    c.created_ms > at
                        || (c.created_ms == at && (id.is_empty() || c.id.as_str() >= id))
                })
            }
        };
        let page: Vec<&ContactRecord> = matching.iter().skip(start).take(limit).copied().collect();
        let more = start + page.len() < total;
        let current = start / limit + 1;
        let last = page.last();
        let next_url = match (more, last) {
            (true, Some(last)) => json!(format!(
                "{base}/contacts/?locationId={location_id}&limit={limit}&startAfter={}&startAfterId={}",
                last.created_ms, last.id
            )),
            _ => Value::Null,
        };
        Ok(json!({
            "contacts": page.iter().map(|c| c.render_list_item(&location.id)).collect::<Vec<_>>(),
            "count": total,
            "meta": {
                "total": total,
                "nextPageUrl": next_url,
                "startAfterId": last.map(|c| c.id.clone()),
                "startAfter": last.map(|c| c.created_ms),
                "currentPage": current,
                "nextPage": if more { json!(current + 1) } else { Value::Null },
                "prevPage": if current > 1 { json!(current - 1) } else { Value::Null },
            },
        }))
    }

    /// `POST /contacts/search`.
    pub fn search_contacts(&mut self, auth: &TokenInfo, body: &Value) -> Result<Value, SimError> {
        let body = as_object(body);
        let location =
            self.authorized_location(auth, body.get("locationId").and_then(Value::as_str))?;
        let limit = body.get("pageLimit").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=500).contains(&limit) {
            return Err(SimError::unprocessable(vec![
                "pageLimit must not be greater than 500".to_owned(),
            ]));
        }
        let query = body
            .get("query")
            .and_then(Value::as_str)
            .map(str::to_lowercase);
        if query.as_ref().is_some_and(|q| q.chars().count() > 75) {
            return Err(SimError::unprocessable(vec![
                "query must be shorter than or equal to 75 characters".to_owned(),
            ]));
        }
        let filters = body
            .get("filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let sort: Vec<(String, bool)> = match body.get("sort").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => items
                .iter()
                .map(|s| {
                    let field = s
                        .get("field")
                        .and_then(Value::as_str)
                        .unwrap_or("dateAdded")
                        .to_owned();
                    let desc = s.get("direction").and_then(Value::as_str) == Some("desc");
                    (field, desc)
                })
                .collect(),
            _ => vec![("dateAdded".to_owned(), false)],
        };
        let mut hits: Vec<(Vec<Value>, &ContactRecord)> = Vec::new();
        for contact in location.contacts.values() {
            if query.as_deref().is_some_and(|q| !contact.matches_query(q)) {
                continue;
            }
            if !all_match(contact, &filters)? {
                continue;
            }
            let mut key = Vec::with_capacity(sort.len() + 1);
            for (field, _) in &sort {
                key.push(contact.search_value(field)?);
            }
            key.push(Value::String(contact.id.clone()));
            hits.push((key, contact));
        }
        let order = |a: &[Value], b: &[Value]| -> Ordering {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let desc = sort.get(i).is_some_and(|(_, d)| *d);
                let o = cmp_values(x, y);
                let o = if desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        };
        hits.sort_by(|a, b| order(&a.0, &b.0));
        let total = hits.len();
        let start = if let Some(cursor) = body.get("searchAfter").and_then(Value::as_array) {
            hits.partition_point(|(key, _)| order(key, cursor) != Ordering::Greater)
        } else {
            let page = body.get("page").and_then(Value::as_u64).unwrap_or(1).max(1);
            if page * limit > 10_000 {
                return Err(SimError::bad_request(
                    "Page based pagination is limited to 10000 records; use searchAfter",
                ));
            }
            ((page - 1) * limit) as usize
        };
        let contacts: Vec<Value> = hits
            .iter()
            .skip(start)
            .take(limit as usize)
            .map(|(key, c)| c.render_search(location, key))
            .collect();
        Ok(json!({"contacts": contacts, "total": total, "traceId": crate::util::new_uuid()}))
    }
}

fn all_match(contact: &ContactRecord, filters: &[Value]) -> Result<bool, SimError> {
    for f in filters {
        if !filter_matches(contact, f)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn filter_matches(contact: &ContactRecord, filter: &Value) -> Result<bool, SimError> {
    if let Some(group) = filter.get("group").and_then(Value::as_str) {
        let inner = filter
            .get("filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        return match group.to_ascii_uppercase().as_str() {
            "AND" => all_match(contact, &inner),
            "OR" => {
                for f in &inner {
                    if filter_matches(contact, f)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            _ => Err(SimError::unprocessable(vec![
                "group must be one of the following values: AND, OR".to_owned(),
            ])),
        };
    }
    let field = filter.get("field").and_then(Value::as_str).ok_or_else(|| {
        SimError::unprocessable(vec!["filters.field should not be empty".to_owned()])
    })?;
    let operator = filter
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or("eq");
    let actual = contact.search_value(field)?;
    let wanted = filter.get("value").cloned().unwrap_or(Value::Null);
    let eq = |a: &Value, w: &Value| match (a, w) {
        (Value::String(a), Value::String(w)) => {
            if field == "phone" {
                normalize_phone(w).is_some_and(|w| a == &w.to_lowercase())
            } else {
                a == &w.to_lowercase()
            }
        }
        (Value::Array(items), w) => items.iter().any(|i| match (i, w) {
            (Value::String(i), Value::String(w)) => i == &w.to_lowercase(),
            (Value::String(i), Value::Array(ws)) => ws
                .iter()
                .any(|w| w.as_str().is_some_and(|w| i == &w.to_lowercase())),
            _ => i == w,
        }),
        (a, w) => cmp_values(a, w) == Ordering::Equal && !a.is_null(),
    };
    let contains = |a: &Value, w: &Value| {
        let w = w.as_str().map(str::to_lowercase).unwrap_or_default();
        match a {
            Value::String(s) => s.contains(&w),
            Value::Array(items) => items
                .iter()
                .any(|i| i.as_str().is_some_and(|s| s.contains(&w))),
            _ => false,
        }
    };
    let present = |a: &Value| match a {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    };
    Ok(match operator {
        "eq" => eq(&actual, &wanted),
        "not_eq" => !eq(&actual, &wanted),
        "contains" => contains(&actual, &wanted),
        "not_contains" => !contains(&actual, &wanted),
        "exists" => present(&actual),
        "not_exists" => !present(&actual),
        "range" => {
            let bound = |k: &str| wanted.get(k).map(range_value);
            let a = &actual;
            !a.is_null()
                && bound("gte").is_none_or(|b| cmp_values(a, &b) != Ordering::Less)
                && bound("gt").is_none_or(|b| cmp_values(a, &b) == Ordering::Greater)
                && bound("lte").is_none_or(|b| cmp_values(a, &b) != Ordering::Greater)
                && bound("lt").is_none_or(|b| cmp_values(a, &b) == Ordering::Less)
        }
        other => {
            return Err(SimError::unprocessable(vec![format!(
                "operator {other} must be one of the following values: eq, not_eq, contains, not_contains, exists, not_exists, range"
            )]));
        }
    })
}

/// Dates in range filters may be ISO strings; contacts store milliseconds.
fn range_value(v: &Value) -> Value {
    match v
        .as_str()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
    {
        Some(t) => json!((t.unix_timestamp_nanos() / 1_000_000) as i64),
        None => v.clone(),
    }
}

/// A total order over JSON scalars: null < bool < number < string.
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_order_totally() {
        assert_eq!(cmp_values(&json!(1), &json!(2)), Ordering::Less);
        assert_eq!(cmp_values(&json!("b"), &json!("a")), Ordering::Greater);
        assert_eq!(cmp_values(&Value::Null, &json!("a")), Ordering::Less);
    }
}
