//! A CloudTalk simulator for tests and demos: companies reached with their API key pair
//! (HTTP Basic), contacts with CloudTalk's edit rules, tags, notes, activities and the bulk
//! endpoint, the call history of the calls it plays (with their flow and recordings),
//! agents and their availability, and dialer campaigns (`world.rs`), behind one gate that
//! plays CloudTalk's edge (`http.rs`): Basic authentication, the per-company limit with its `X-CloudTalkAPI-*` headers and 429s,
//! faults (a status, or applying a request and then answering too late), and an audit log
//! of every request and answer. `openapi.rs` makes CloudTalk's OpenAPI document into
//! validators for the tests of the client and of the simulator.

mod http;
pub mod openapi;
pub mod webhooks;
pub mod world;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::Value;

pub use webhooks::{Automation, Call, CallIds, Delivery, Trigger};
pub use world::{Agent, Campaign, Cdr, Company, Refusal};

/// The per-company limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Operations per minute (CloudTalk's default is 60).
    pub per_minute: u32,
    /// A bulk request costs as many operations as it has commands (otherwise one).
    pub bulk_counts_commands: bool,
}

impl Default for Limit {
    fn default() -> Self {
        Self {
            per_minute: 60,
            bulk_counts_commands: true,
        }
    }
}

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer this status without serving.
    Status(u16),
    /// Serve the request (its changes are applied), then hold the answer back this long,
    /// so a client with a shorter timeout gives up.
    ApplyThenTimeout {
        /// How long the answer is held.
        hold_ms: u64,
    },
}

/// A fault rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What it does.
    pub action: FaultAction,
    /// Only paths (after `/api`) starting with this.
    pub path_prefix: Option<String>,
    /// At most this many requests, then it stops.
    pub count: Option<u64>,
}

/// One request and its answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When it arrived (ms since the epoch).
    pub at_ms: i64,
    /// HTTP method.
    pub method: String,
    /// Path after `/api`.
    pub path: String,
    /// Query string.
    pub query: Option<String>,
    /// The company (its key id), when the credentials were valid.
    pub company: Option<String>,
    /// The request body.
    pub request_body: Value,
    /// The answer's status.
    pub status: u16,
    /// The answer's `Content-Type` (`application/json`, or `audio/x-wav` for a recording).
    pub content_type: String,
    /// The answer's body: what is inside `responseData` for enveloped answers, the body
    /// itself for the analytics host's, base64 of the bytes for a recording.
    pub response_body: Value,
    /// The fault applied, if any.
    pub fault: Option<String>,
}

/// A company's credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The API key id (Basic user name).
    pub key_id: String,
    /// The API key secret (Basic password).
    pub secret: String,
}

/// A company and where its current limit window stands.
#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) secret: String,
    pub(crate) data: Company,
    /// Start of the current minute (Unix seconds) and operations used in it.
    pub(crate) window: (u64, u32),
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) accounts: HashMap<String, Account>,
    pub(crate) audit: Vec<AuditEntry>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) limit: Limit,
    /// Workflow automations per company and trigger.
    pub(crate) automations: HashMap<(String, Trigger), Automation>,
    pub(crate) deliveries: Vec<Delivery>,
    pub(crate) calls: u64,
    pub(crate) http: reqwest::Client,
}

/// Sends `company`'s automation for `trigger`, if it has one, and records the delivery.
pub(crate) async fn deliver(state: &Mutex<State>, company: &str, trigger: Trigger, body: Value) {
    let (automation, http) = {
        let st = lock(state);
        match st.automations.get(&(company.to_owned(), trigger)) {
            Some(a) => (a.clone(), st.http.clone()),
            None => return,
        }
    };
    let status = webhooks::send(&http, &automation, &body).await;
    lock(state).deliveries.push(Delivery {
        company: company.to_owned(),
        trigger,
        url: automation.url,
        body,
        status,
    });
}

/// A running simulator; clones share it.
#[derive(Clone, Debug)]
pub struct SimHandle {
    state: Arc<Mutex<State>>,
    base: String,
}

pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SimHandle {
    /// Starts a simulator on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}/api", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let app = http::router(Arc::clone(&state));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { state, base })
    }

    /// The API root to give a client (`http://127.0.0.1:PORT/api`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Adds a company and returns its API key pair.
    pub fn add_company(&self, name: &str) -> Credentials {
        let mut state = lock(&self.state);
        let n = state.accounts.len() + 1;
        let credentials = Credentials {
            key_id: format!("ct-{n}-{}", name.to_lowercase().replace(' ', "-")),
            secret: format!("secret-{n}"),
        };
        let mut data = Company::default();
        data.id = 100_000 + n as u64;
        state.accounts.insert(
            credentials.key_id.clone(),
            Account {
                secret: credentials.secret.clone(),
                data,
                window: (0, 0),
            },
        );
        credentials
    }

    /// A copy of a company's data.
    pub fn company(&self, key_id: &str) -> Option<Company> {
        lock(&self.state)
            .accounts
            .get(key_id)
            .map(|a| a.data.clone())
    }

    /// Changes a company's data as someone working in CloudTalk would (no webhook is sent).
    pub fn with_company<R>(&self, key_id: &str, f: impl FnOnce(&mut Company) -> R) -> Option<R> {
        lock(&self.state)
            .accounts
            .get_mut(key_id)
            .map(|a| f(&mut a.data))
    }

    /// Every request so far.
    pub fn audit(&self) -> Vec<AuditEntry> {
        lock(&self.state).audit.clone()
    }

    /// Changes the limit.
    pub fn set_limit(&self, limit: Limit) {
        lock(&self.state).limit = limit;
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, fault: Fault) {
        lock(&self.state).faults.push(fault);
    }

    /// Sets `company`'s "API Request" action for `trigger`.
    pub fn set_automation(&self, company: &str, trigger: Trigger, automation: Automation) {
        lock(&self.state)
            .automations
            .insert((company.to_owned(), trigger), automation);
    }

    /// Every webhook sent so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.state).deliveries.clone()
    }

    /// Plays a call of `company`: Call Started now (twice if asked), Call Ended after the
    /// wrap-up, then Recording Uploaded; the contact is the one CloudTalk has with the
    /// call's number, if any. The call is recorded at once in the company's call history
    /// (its CDR: numbers, agent, contact, times from now, the recording link when
    /// recorded), and its agent is added to the company's agents if new. Returns once Call
    /// Started is delivered.
    pub async fn place_call(&self, company: &str, call: Call) -> CallIds {
        let (ids, contact) = {
            let mut st = lock(&self.state);
            st.calls += 1;
            let n = st.calls;
            let ids = CallIds {
                call_id: 500_000 + n,
                call_uuid: format!("6f1c{n:04x}-0000-4000-8000-{n:012x}"),
            };
            let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
            let contact = st.accounts.get(company).and_then(|a| {
                a.data
                    .contacts
                    .values()
                    .find(|c| {
                        c.numbers
                            .iter()
                            .any(|x| digits(x) == digits(&call.external_number))
                    })
                    .map(|c| (c.id, c.tags.clone()))
            });
            if let Some(account) = st.accounts.get_mut(company) {
                account
                    .data
                    .record_call(cdr_of(&call, &ids, contact.as_ref().map(|c| c.0)));
                let agent = account.data.ensure_agent(call.agent.0, &call.agent.1);
                if agent.associated_numbers.is_empty() {
                    agent.default_number = Some(call.internal_number.clone());
                    agent.associated_numbers = vec![call.internal_number.clone()];
                }
            }
            (ids, contact)
        };
        let bodies = webhooks::call_bodies(&call, &ids, contact);
        let (now, later): (Vec<_>, Vec<_>) = bodies
            .into_iter()
            .partition(|(t, _)| *t == Trigger::CallStarted);
        for (trigger, body) in now {
            deliver(&self.state, company, trigger, body).await;
        }
        let state = Arc::clone(&self.state);
        let company = company.to_owned();
        let wrap_up = call.wrap_up;
        tokio::spawn(async move {
            tokio::time::sleep(wrap_up).await;
            for (trigger, body) in later {
                deliver(&state, &company, trigger, body).await;
            }
        });
        ids
    }

    /// An agent's status changes (User › Status Changed): the agent (added with `name` if
    /// the company has none by that id) has `status` in the agents list, and the automation
    /// is sent.
    pub async fn set_agent_status(&self, company: &str, agent_id: u64, name: &str, status: &str) {
        if let Some(account) = lock(&self.state).accounts.get_mut(company) {
            account.data.set_agent_status(agent_id, name, status);
        }
        let body = serde_json::json!({"id": agent_id, "agent_name": name, "status": status});
        deliver(&self.state, company, Trigger::AgentStatusChanged, body).await;
    }

    /// Adds an agent to `company` (an id of 0 gets the next free one, no extension the
    /// lowest free one); its id, none for an unknown company.
    pub fn add_agent(&self, company: &str, agent: world::Agent) -> Option<u64> {
        self.with_company(company, |c| c.add_agent(agent))
    }

    /// Adds an active campaign named `name` calling the contacts tagged `tags` (tags not
    /// yet known are given ids), with one "Sale" button; its id, none for an unknown
    /// company.
    pub fn add_campaign(&self, company: &str, name: &str, tags: &[&str]) -> Option<u64> {
        self.with_company(company, |c| c.add_campaign_with_tags(name, tags))
    }
}

/// The CDR of a call the simulator plays: it starts now, is answered after the waiting
/// time if it has talking time, and ends after that.
fn cdr_of(call: &Call, ids: &CallIds, contact: Option<u64>) -> world::Cdr {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let answered = now + call.waiting_time as i64 * 1_000;
    let ended = if call.talking_time > 0 {
        answered + call.talking_time as i64 * 1_000
    } else {
        answered
    };
    world::Cdr {
        id: ids.call_id,
        uuid: ids.call_uuid.clone(),
        direction: call.direction.clone(),
        public_external: call.external_number.clone(),
        public_internal: call.internal_number.clone(),
        user_id: call.agent.0,
        contact_id: contact,
        talking_time: call.talking_time,
        waiting_time: call.waiting_time,
        wrapup_time: call.wrap_up.as_secs(),
        started_at: world::iso_time(now),
        answered_at: (call.talking_time > 0).then(|| world::iso_time(answered)),
        ended_at: world::iso_time(ended),
        recorded: call.recorded,
        recording_expired: false,
    }
}
