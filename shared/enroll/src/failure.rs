//! Why enrolling a user failed, as a type, and the one rule that turns a cause into what
//! happens next: [`disposition`]. The SQS handler, the CLI's apply, the audit record, the
//! metrics and the local summary all ask this module; text is made from a cause only for logs
//! and reports, never read back.

use std::fmt;

use autoenroll_graph::{GraphError, GraphErrorKind};
use serde::{Deserialize, Serialize};

use crate::delivery::DeliveryDisposition;
use crate::ports::StoreError;

/// What happens to a user (and the queue message that asked for them) after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Disposition {
    /// Wrong for this user only, and trying again will not fix it (a number Graph refuses, a
    /// user that is gone): recorded and reported, the message is deleted.
    Permanent,
    /// Passing (throttling, 5xx, timeouts, store outages, the user changed under us, no
    /// write budget before the deadline): the message is delivered again.
    Retry,
    /// Not about this user: our credential or permissions, the configuration, the store
    /// refusing us. Every user would fail the same way, so the message is failed too — it ends
    /// in the dead-letter queue (alarmed) to be redriven once an operator has fixed the cause.
    Systemic,
}

impl Disposition {
    /// The queue message is failed (left for redelivery, eventually dead-lettered).
    pub fn keeps_message(self) -> bool {
        !matches!(self, Disposition::Permanent)
    }

    /// Name for logs, metric dimensions and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Permanent => "permanent",
            Disposition::Retry => "retry",
            Disposition::Systemic => "systemic",
        }
    }
}

/// Kind of a store failure (the adapter's detail stays in `Cause::Store::detail`, for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A conditional write lost to another writer.
    Conflict,
    /// Outage or throttling.
    Unavailable,
    /// Refused (permissions, a missing table, a malformed item).
    Refused,
}

/// One typed reason for a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Graph answered with an error, or the way to it failed.
    Graph {
        kind: GraphErrorKind,
        status: Option<u16>,
        /// Graph's `error.code`, e.g. `Request_ResourceNotFound`.
        code: Option<Box<str>>,
        /// The server asked us to slow down (429).
        throttled: bool,
    },
    /// The token endpoint refused us or could not be reached (e.g. HTTP 400
    /// `unauthorized_client`): `status` and OAuth `error` code when Entra sent them.
    Token {
        status: Option<u16>,
        code: Option<Box<str>>,
    },
    /// The Graph client was configured or called wrongly.
    Config,
    /// Our memory store failed.
    Store { kind: StoreKind, detail: String },
    /// The user's state is no longer what the plan saw; nothing was written.
    Changed(&'static str),
    /// The write could not get budget before the invocation's deadline; nothing was sent.
    Deferred,
    /// A Temporary Access Pass could not be handed over (the pass was deleted again): the
    /// adapter's code (`DeliveryError::code`) and what it means for the user.
    Delivery {
        channel: crate::delivery::Channel,
        code: &'static str,
        disposition: DeliveryDisposition,
    },
    /// Graph did not find the user for the group add, tried again after a delay, though the
    /// user was read just before: a just-created user not yet known to every directory replica
    /// (learn troubleshoot-graph-api-replication). The next attempt re-reads the user.
    NotYetVisible,
}

/// The one rule: what a cause means for the user and the message.
pub fn disposition(cause: &Cause) -> Disposition {
    match cause {
        Cause::Token { status, .. } => match status {
            // The token endpoint itself is struggling: passing.
            Some(429) | Some(500..) => Disposition::Retry,
            _ => Disposition::Systemic,
        },
        Cause::Config => Disposition::Systemic,
        Cause::Graph { kind, status, .. } => match (kind, status) {
            (GraphErrorKind::Authentication, _) => Disposition::Systemic,
            (GraphErrorKind::Config, _) => Disposition::Systemic,
            (_, Some(401 | 403)) => Disposition::Systemic,
            (_, Some(429)) => Disposition::Retry,
            // Graph's 500s are transient in practice, and a repeat is safe: the fresh read and
            // plan find a phone that landed instead of adding it twice.
            (_, Some(500..)) => Disposition::Retry,
            (_, Some(_)) => Disposition::Permanent,
            // No answer (connect, transport, timeout) or an answer we could not read: the
            // next attempt re-reads; dropping could lose the user.
            (_, None) => Disposition::Retry,
        },
        Cause::Store { kind, .. } => match kind {
            StoreKind::Conflict | StoreKind::Unavailable => Disposition::Retry,
            StoreKind::Refused => Disposition::Systemic,
        },
        Cause::Changed(_) | Cause::Deferred | Cause::NotYetVisible => Disposition::Retry,
        Cause::Delivery { disposition, .. } => match disposition {
            DeliveryDisposition::Retry => Disposition::Retry,
            // This recipient will never be reached: reported in the audit trail, not retried.
            DeliveryDisposition::SkipUser => Disposition::Permanent,
            DeliveryDisposition::Systemic => Disposition::Systemic,
        },
    }
}

impl Cause {
    pub fn disposition(&self) -> Disposition {
        disposition(self)
    }

    pub fn is_throttled(&self) -> bool {
        matches!(
            self,
            Cause::Graph {
                throttled: true,
                ..
            }
        )
    }
}

impl From<&crate::delivery::DeliveryError> for Cause {
    fn from(e: &crate::delivery::DeliveryError) -> Self {
        Cause::Delivery {
            channel: e.channel(),
            code: e.code(),
            disposition: e.disposition(),
        }
    }
}

impl From<&GraphError> for Cause {
    fn from(e: &GraphError) -> Self {
        match e.kind {
            GraphErrorKind::Authentication => Cause::Token {
                status: e.status,
                code: e.code.clone(),
            },
            GraphErrorKind::Config => Cause::Config,
            GraphErrorKind::Deferred => Cause::Deferred,
            kind => Cause::Graph {
                kind,
                status: e.status,
                code: e.code.clone(),
                throttled: e.is_throttled(),
            },
        }
    }
}

impl From<&StoreError> for Cause {
    fn from(e: &StoreError) -> Self {
        let (kind, detail) = match e {
            StoreError::Conflict => (StoreKind::Conflict, String::new()),
            StoreError::Unavailable(d) => (StoreKind::Unavailable, d.clone()),
            StoreError::Other(d) => (StoreKind::Refused, d.clone()),
        };
        Cause::Store { kind, detail }
    }
}

/// Status and code, never Graph's message (it may echo the number).
impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status_code = |f: &mut fmt::Formatter<'_>,
                           status: &Option<u16>,
                           code: &Option<Box<str>>| match (status, code) {
            (Some(s), Some(c)) => write!(f, "{s} {c}"),
            (Some(s), None) => write!(f, "{s}"),
            (None, Some(c)) => write!(f, "{c}"),
            (None, None) => Ok(()),
        };
        match self {
            Cause::Graph {
                kind, status, code, ..
            } => {
                if status.is_none() {
                    write!(f, "{kind:?}")?;
                    if code.is_some() {
                        f.write_str(" ")?;
                    }
                }
                status_code(f, status, code)
            }
            Cause::Token { status, code } => {
                f.write_str("token")?;
                if status.is_some() || code.is_some() {
                    f.write_str(" ")?;
                }
                status_code(f, status, code)
            }
            Cause::Config => f.write_str("config"),
            Cause::Store { kind, detail } => {
                let kind = match kind {
                    StoreKind::Conflict => "conflict",
                    StoreKind::Unavailable => "unavailable",
                    StoreKind::Refused => "refused",
                };
                if detail.is_empty() {
                    write!(f, "memory {kind}")
                } else {
                    write!(f, "memory {kind}: {detail}")
                }
            }
            Cause::Changed(why) => write!(f, "changed since planned: {why}"),
            Cause::Deferred => f.write_str("deferred: no write budget before the deadline"),
            Cause::Delivery { channel, code, .. } => {
                write!(f, "pass delivery {channel}: {code} (pass deleted)")
            }
            Cause::NotYetVisible => f.write_str(
                "not yet visible: the user was not found by the group add, also after waiting",
            ),
        }
    }
}

/// A failure: its first cause, and a store failure met afterwards while confirming what was
/// written (both count; the gravest decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub cause: Cause,
    pub then: Option<Box<Cause>>,
}

impl Failure {
    pub fn new(cause: Cause) -> Self {
        Self { cause, then: None }
    }

    /// The graver of the two causes' dispositions (systemic over retry over permanent).
    pub fn disposition(&self) -> Disposition {
        let first = disposition(&self.cause);
        self.then
            .as_deref()
            .map_or(first, |then| first.max(disposition(then)))
    }

    pub fn is_throttled(&self) -> bool {
        self.cause.is_throttled()
    }

    /// This failure with `later` met afterwards.
    pub fn and_then(mut self, later: Cause) -> Self {
        self.then = Some(Box::new(later));
        self
    }
}

impl From<Cause> for Failure {
    fn from(cause: Cause) -> Self {
        Failure::new(cause)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cause)?;
        if let Some(then) = &self.then {
            write!(f, "; {then}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(status: u16, code: &str) -> Cause {
        Cause::Graph {
            kind: GraphErrorKind::Http,
            status: Some(status),
            code: Some(code.into()),
            throttled: status == 429,
        }
    }

    fn token(status: Option<u16>, code: &str) -> Cause {
        Cause::Token {
            status,
            code: Some(code.into()),
        }
    }

    #[test]
    fn dispositions_case_by_case() {
        use Disposition::*;
        let store = |kind| Cause::Store {
            kind,
            detail: String::new(),
        };
        let no_answer = |kind| Cause::Graph {
            kind,
            status: None,
            code: None,
            throttled: false,
        };
        let table: Vec<(Cause, Disposition)> = vec![
            // Entra answers many credential problems with 400, not 401.
            (token(Some(400), "unauthorized_client"), Systemic),
            (token(Some(401), "invalid_client"), Systemic),
            (token(None, "x"), Systemic),
            (token(Some(503), "temporarily_unavailable"), Retry),
            (token(Some(429), "x"), Retry),
            (Cause::Config, Systemic),
            (graph(401, "InvalidAuthenticationToken"), Systemic),
            (graph(403, "Authorization_RequestDenied"), Systemic),
            (graph(429, "TooManyRequests"), Retry),
            (graph(500, "InternalServerError"), Retry),
            (graph(503, "serviceNotAvailable"), Retry),
            (graph(400, "invalidRequest"), Permanent),
            (graph(404, "Request_ResourceNotFound"), Permanent),
            (graph(409, "conflict"), Permanent),
            (no_answer(GraphErrorKind::Timeout), Retry),
            (no_answer(GraphErrorKind::Connect), Retry),
            (no_answer(GraphErrorKind::Transport), Retry),
            (no_answer(GraphErrorKind::Decode), Retry),
            (no_answer(GraphErrorKind::Config), Systemic),
            (no_answer(GraphErrorKind::Authentication), Systemic),
            (store(StoreKind::Conflict), Retry),
            (store(StoreKind::Unavailable), Retry),
            (store(StoreKind::Refused), Systemic),
            (Cause::Changed("the mobile phone was removed"), Retry),
            (Cause::Deferred, Retry),
            (Cause::NotYetVisible, Retry),
        ];
        for (cause, expected) in table {
            assert_eq!(disposition(&cause), expected, "{cause:?}");
        }
    }

    #[test]
    fn a_token_error_from_the_graph_client_is_a_token_cause() {
        let mut e =
            GraphError::from_response(400, &Default::default(), br#"{"error":{"code":"x"}}"#);
        e.kind = GraphErrorKind::Authentication;
        e.code = Some("unauthorized_client".into());
        let cause = Cause::from(&e);
        assert_eq!(cause, token(Some(400), "unauthorized_client"));
        assert_eq!(cause.to_string(), "token 400 unauthorized_client");
        assert_eq!(cause.disposition(), Disposition::Systemic);
    }

    #[test]
    fn the_graver_cause_decides() {
        let f = Failure::new(graph(400, "invalidRequest")).and_then(Cause::Store {
            kind: StoreKind::Unavailable,
            detail: String::new(),
        });
        assert_eq!(f.disposition(), Disposition::Retry);
        let f = Failure::new(graph(403, "accessDenied")).and_then(Cause::Store {
            kind: StoreKind::Conflict,
            detail: String::new(),
        });
        assert_eq!(f.disposition(), Disposition::Systemic);
        assert_eq!(f.to_string(), "403 accessDenied; memory conflict");
    }

    #[test]
    fn only_permanent_failures_let_the_message_go() {
        assert!(!Disposition::Permanent.keeps_message());
        assert!(Disposition::Retry.keeps_message());
        assert!(Disposition::Systemic.keeps_message());
    }
}
