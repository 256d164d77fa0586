//! Why the webhook refused something, counted per reason. Each request's tally becomes one
//! EMF line per reason (`WebhookRejected`, dimension `Reason`) and one log line — never the
//! clientState, the body or the token.

use autoenroll_aws::metrics::EmfMetrics;

/// The reasons, a small fixed set (they are metric dimension values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A notification without `clientState`.
    ClientStateMissing,
    /// A notification whose `clientState` is neither the current nor the previous value.
    ClientStateMismatch,
    /// A notification for another tenant.
    WrongTenant,
    /// A notification about something other than a user (dropped, the rest goes on).
    NotAUser,
    /// The body is not a change-notification collection (whole request, 400).
    Malformed,
    /// The body is over the cap (whole request, 413).
    TooLarge,
    /// Not `application/json` (whole request, 415).
    UnsupportedMediaType,
    /// Not POST (whole request, 405).
    MethodNotAllowed,
    /// A validation token that is empty, too long, not UTF-8 or has control characters (400).
    BadValidationToken,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::ClientStateMissing,
        Reason::ClientStateMismatch,
        Reason::WrongTenant,
        Reason::NotAUser,
        Reason::Malformed,
        Reason::TooLarge,
        Reason::UnsupportedMediaType,
        Reason::MethodNotAllowed,
        Reason::BadValidationToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ClientStateMissing => "ClientStateMissing",
            Reason::ClientStateMismatch => "ClientStateMismatch",
            Reason::WrongTenant => "WrongTenant",
            Reason::NotAUser => "NotAUser",
            Reason::Malformed => "Malformed",
            Reason::TooLarge => "TooLarge",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::BadValidationToken => "BadValidationToken",
        }
    }

    /// Whether the item failed authentication (as opposed to being well-formed but not ours).
    pub fn is_authentication(self) -> bool {
        matches!(
            self,
            Reason::ClientStateMissing | Reason::ClientStateMismatch | Reason::WrongTenant
        )
    }
}

/// Rejections of one request, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    counts: [u64; Reason::ALL.len()],
}

impl Tally {
    pub fn one(reason: Reason) -> Self {
        let mut tally = Self::default();
        tally.add(reason, 1);
        tally
    }

    pub fn add(&mut self, reason: Reason, count: u64) {
        self.counts[reason as usize] += count;
    }

    pub fn get(&self, reason: Reason) -> u64 {
        self.counts[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (Reason, u64)> + '_ {
        Reason::ALL
            .iter()
            .map(|&r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }

    /// One metric line and one log line per reason.
    pub fn report(&self, metrics: &EmfMetrics) {
        for (reason, count) in self.iter() {
            metrics.webhook_rejected(reason.as_str(), count);
            tracing::warn!(reason = reason.as_str(), count, "webhook rejected input");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_index_their_own_slot() {
        for (i, reason) in Reason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, i, "{reason:?}");
        }
    }

    #[test]
    fn tally_reports_one_metric_line_per_reason_with_its_count() {
        let (metrics, captured) = EmfMetrics::capture();
        let mut tally = Tally::default();
        tally.add(Reason::ClientStateMismatch, 2);
        tally.add(Reason::NotAUser, 1);
        tally.add(Reason::ClientStateMismatch, 1);
        tally.report(&metrics);
        assert_eq!(captured.documents().len(), 2);
        assert_eq!(
            captured.total("WebhookRejected", Some("ClientStateMismatch")),
            3.0
        );
        assert_eq!(captured.total("WebhookRejected", Some("NotAUser")), 1.0);
        assert_eq!(tally.total(), 4);
    }
}
