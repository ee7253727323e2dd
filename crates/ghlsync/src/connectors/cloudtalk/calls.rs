//! CloudTalk's call stack for one bridge: the company's client, its limiter and the
//! classification of CloudTalk's errors, and the bulk batcher.
//!
//! - Every call takes its operations from the company's window limiter
//!   (`cloudtalk:<bridge>`, `cloudtalk.per_minute` per calendar minute); a spent window
//!   holds the job until the next one without using an attempt. A 429 spends the window
//!   and holds the company until CloudTalk's `X-CloudTalkAPI-ResetTime`.
//! - Commands of one company (notes, activities, new contacts) queue for one bulk request:
//!   whoever's turn it is sends what has queued, up to 10, as one request that costs as
//!   many operations as it has commands (`cloudtalk.bulk_counts_commands`). Each command's
//!   `command_id` is its job's id, the same on every retry; each is answered alone, so a
//!   command CloudTalk refuses fails alone.
//! - Timeouts, connection failures and 5xx are transient; 400, 401, 404 and 406 are
//!   permanent, with CloudTalk's message.

use std::time::Duration;

use cloudtalk::bulk::{Command, CommandResult};
use ghlsync_core::Millis;
use secrecy::SecretString;

use super::State;
use crate::app::{App, now_ms};
use crate::config::BridgeConfig;
use crate::delivery::limiter::WindowLimiter;
use crate::delivery::{JobError, permanent};
use crate::metrics as m;

/// The answer a bulk command waits for.
#[derive(Clone, Debug)]
pub(super) enum Answer {
    /// CloudTalk's answer to the command.
    Answered(CommandResult),
    /// The window was spent before the command could go.
    Held(Millis),
    /// The request failed as a whole.
    Failed {
        /// Worth retrying.
        transient: bool,
        /// Why.
        message: String,
    },
}

impl Answer {
    fn of(error: &JobError) -> Self {
        match error {
            JobError::Held { until } | JobError::Unsent { until } => Self::Held(*until),
            JobError::Transient(message) => Self::Failed {
                transient: true,
                message: message.clone(),
            },
            JobError::Permanent { message, .. } => Self::Failed {
                transient: false,
                message: message.clone(),
            },
        }
    }
}

/// One bridge's CloudTalk calls.
pub(crate) struct CloudTalk<'a> {
    pub(super) app: &'a App,
    pub(super) bridge: &'a BridgeConfig,
    pub(super) client: cloudtalk::Client,
}

impl<'a> CloudTalk<'a> {
    /// The bridge's client (built once per bridge).
    pub(crate) fn new(app: &'a App, bridge: &'a BridgeConfig) -> Result<Self, JobError> {
        let state: &State = &app.connector_state().cloudtalk;
        let mut clients = state
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let client = match clients.get(&bridge.name) {
            Some(c) => c.clone(),
            None => {
                let cfg = &app.config().cloudtalk;
                let client = cloudtalk::Client::builder()
                    .base_url(&cfg.base_url)
                    .timeout(Duration::from_millis(cfg.timeout_ms))
                    .build(
                        bridge.key_id.clone(),
                        SecretString::from(bridge.key_secret.expose().to_owned()),
                    )
                    .map_err(|e| permanent(format!("cloudtalk client: {e}")))?;
                clients.insert(bridge.name.clone(), client.clone());
                client
            }
        };
        Ok(Self {
            app,
            bridge,
            client,
        })
    }

    fn limiter(&self) -> WindowLimiter<'a> {
        let cfg = &self.app.config().cloudtalk;
        WindowLimiter::new(
            self.app,
            format!("cloudtalk:{}", self.bridge.name),
            cfg.per_minute,
            60_000,
            cfg.window_margin_ms,
        )
    }

    /// One call (one operation): permit, call, classification.
    pub(super) async fn call<T, F, Fut>(&self, what: &'static str, f: F) -> Result<T, JobError>
    where
        F: FnOnce(cloudtalk::Client) -> Fut,
        Fut: std::future::Future<Output = Result<cloudtalk::Response<T>, cloudtalk::Error>>,
    {
        self.limiter().permit(1).await?;
        let result = f(self.client.clone()).await;
        self.count(what, &result);
        self.observe(&result).await;
        match result {
            Ok(response) => Ok(response.data),
            Err(e) => Err(self.classify(what, e).await),
        }
    }

    /// Reads CloudTalk's view of the budget: the limit is the company's, shared with every
    /// other integration on the account, so a minute CloudTalk says is spent holds the
    /// bridge until it resets even when ghlsync's own count has room.
    async fn observe<T>(&self, result: &Result<cloudtalk::Response<T>, cloudtalk::Error>) {
        let limit = match result {
            Ok(r) => r.rate_limit(),
            Err(cloudtalk::Error::RateLimited { .. }) => return,
            Err(e) => match e.reply() {
                Some(reply) => &reply.rate_limit,
                None => return,
            },
        };
        if limit.exhausted()
            && let Some(reset) = limit.reset_at
        {
            let until = (reset as Millis) * 1000 + self.app.config().cloudtalk.window_margin_ms;
            if until > now_ms() {
                self.limiter().hold(until).await;
            }
        }
    }

    fn count<T>(
        &self,
        what: &'static str,
        result: &Result<cloudtalk::Response<T>, cloudtalk::Error>,
    ) {
        let status = m::status_class(match result {
            Ok(r) => Some(r.reply.status),
            Err(e) => e.reply().map(|r| r.status),
        });
        metrics::counter!(m::CLOUDTALK_CALLS, "call" => what, "status" => status).increment(1);
    }

    pub(super) async fn classify(&self, what: &str, e: cloudtalk::Error) -> JobError {
        match e {
            cloudtalk::Error::RateLimited { reset_at, .. } => {
                let now = now_ms();
                let until = reset_at
                    .map(|s| (s as Millis) * 1000)
                    .filter(|&u| u > now)
                    .unwrap_or(now + 60_000)
                    + self.app.config().cloudtalk.window_margin_ms;
                self.limiter().hold(until).await;
                JobError::Held { until }
            }
            e if e.is_transient() => JobError::Transient(format!("cloudtalk {what}: {e}")),
            e => permanent(format!("cloudtalk {what}: {e}")),
        }
    }

    /// Sends `command` in the company's next bulk request and returns CloudTalk's answer to
    /// it.
    pub(super) async fn bulk(&self, command: Command) -> Result<CommandResult, JobError> {
        let batcher = self
            .app
            .connector_state()
            .cloudtalk
            .batcher(&self.bridge.name);
        let answer = batcher
            .submit(command, |commands| async move {
                Ok(self.send_bulk(commands).await)
            })
            .await
            .map_err(JobError::Transient)?;
        match answer {
            Answer::Answered(result) => Ok(result),
            Answer::Held(until) => Err(JobError::Held { until }),
            Answer::Failed {
                transient: true,
                message,
            } => Err(JobError::Transient(message)),
            Answer::Failed { message, .. } => Err(permanent(message)),
        }
    }

    /// One bulk request for as many of `commands` as the window allows; the rest are held.
    async fn send_bulk(&self, commands: Vec<Command>) -> Vec<Answer> {
        let counts_commands = self.app.config().cloudtalk.bulk_counts_commands;
        let want = if counts_commands {
            commands.len() as u32
        } else {
            1
        };
        let granted = match self.limiter().permit(want).await {
            Ok(granted) => granted,
            Err(e) => return vec![Answer::of(&e); commands.len()],
        };
        let sent = if counts_commands {
            (granted as usize).min(commands.len())
        } else {
            commands.len()
        };
        let next_window = {
            let now = now_ms();
            now - now.rem_euclid(60_000) + 60_000 + self.app.config().cloudtalk.window_margin_ms
        };
        let result = self.client.bulk(&commands[..sent]).await;
        self.count("bulk", &result);
        self.observe(&result).await;
        let mut answers = match result {
            Ok(response) => commands[..sent]
                .iter()
                .map(|c| {
                    response
                        .data
                        .iter()
                        .find(|r| r.command_id == c.command_id)
                        .cloned()
                        .map_or_else(
                            || Answer::Failed {
                                transient: true,
                                message: format!(
                                    "cloudtalk bulk: no answer for command {}",
                                    c.command_id
                                ),
                            },
                            Answer::Answered,
                        )
                })
                .collect(),
            // An answer that cannot be read may still have been applied: transient, so the
            // retry looks before it adds.
            Err(e @ cloudtalk::Error::Decode { .. }) => vec![
                Answer::Failed {
                    transient: true,
                    message: format!("cloudtalk bulk: {e}"),
                };
                sent
            ],
            Err(e) => vec![Answer::of(&self.classify("bulk", e).await); sent],
        };
        answers.extend(std::iter::repeat_n(
            Answer::Held(next_window),
            commands.len() - sent,
        ));
        answers
    }
}
