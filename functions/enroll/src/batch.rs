//! One SQS batch: each message is an [`EnrollRequest`]; the answer names only the messages to
//! deliver again (`ReportBatchItemFailures`).
//!
//! FIFO ordering: once a message of a group fails, the later messages of that group in the
//! batch are failed too, unprocessed — otherwise a later message would be handled (and
//! deleted) before an earlier one that comes back. Lambda's guidance for FIFO queues is
//! stricter ("stop processing after the first failure and return all failed and unprocessed
//! messages", <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>);
//! order is only promised within a group, so other groups carry on. Groups are handled
//! concurrently, each group's messages one after another.
//!
//! A body that is not an enroll request for our tenant can never succeed: it is logged
//! (without the body), counted as a failure metric and acknowledged, so it does not loop
//! through the queue and the dead-letter queue.

use tokio::time::Instant;

use autoenroll_aws::fifo::decode_body;
use autoenroll_aws::metrics::EmfMetrics;
use autoenroll_core::failure::Disposition;
use autoenroll_core::ids;
use autoenroll_core::ports::{AuditSink, EnrollRequest, MemoryStore};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};

use autoenroll_core::engine::{Enroller, Settle, UserReport, UserResult};

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A message that must be retried has no id to name it by: only failing the whole batch
    /// keeps it (Lambda always sets `messageId`; this guards hand-made events).
    #[error("a failed message has no messageId; failing the whole batch")]
    UnnamedFailure,
}

/// Why a message was acknowledged without being handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Malformed {
    NoBody,
    NotAnEnrollRequest,
    OtherTenant,
    BadUserId,
}

impl Malformed {
    fn as_str(self) -> &'static str {
        match self {
            Malformed::NoBody => "noBody",
            Malformed::NotAnEnrollRequest => "notAnEnrollRequest",
            Malformed::OtherTenant => "otherTenant",
            Malformed::BadUserId => "badUserId",
        }
    }
}

/// Handles `event` with `enroller`, emitting one metric line per user (plus latency). No call
/// waits for Graph budget past `deadline`: that user's message is failed (deferred, delivered
/// again) and the batch still answers in time.
pub async fn handle_batch<M: MemoryStore, A: AuditSink>(
    enroller: &Enroller<M, A>,
    metrics: &EmfMetrics,
    event: &SqsEvent,
    deadline: Option<Instant>,
) -> Result<SqsBatchResponse, BatchError> {
    let groups = group_in_order(&event.records);
    let per_group = groups.iter().map(|messages| async move {
        let mut failed: Vec<&SqsMessage> = Vec::new();
        for message in messages {
            if !failed.is_empty() {
                // An earlier message of this group failed: keep the order, do not process.
                failed.push(message);
                continue;
            }
            if handle_message(enroller, metrics, message, deadline).await == Settle::Retry {
                failed.push(message);
            }
        }
        failed
    });
    let failed: Vec<&SqsMessage> = futures::future::join_all(per_group)
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut response = SqsBatchResponse::default();
    for message in failed {
        match message.message_id.as_deref() {
            Some(id) if !id.is_empty() => response.add_failure(id),
            _ => return Err(BatchError::UnnamedFailure),
        }
    }
    Ok(response)
}

/// The records split by `MessageGroupId` (falling back to the message id: no ordering to
/// keep), groups in order of first appearance, each group in batch order.
fn group_in_order(records: &[SqsMessage]) -> Vec<Vec<&SqsMessage>> {
    let mut keys: Vec<&str> = Vec::new();
    let mut groups: Vec<Vec<&SqsMessage>> = Vec::new();
    for message in records {
        let key = message
            .attributes
            .get("MessageGroupId")
            .map(String::as_str)
            .or(message.message_id.as_deref())
            .unwrap_or_default();
        match keys.iter().position(|k| *k == key) {
            Some(i) => groups[i].push(message),
            None => {
                keys.push(key);
                groups.push(vec![message]);
            }
        }
    }
    groups
}

async fn handle_message<M: MemoryStore, A: AuditSink>(
    enroller: &Enroller<M, A>,
    metrics: &EmfMetrics,
    message: &SqsMessage,
    deadline: Option<Instant>,
) -> Settle {
    let started = Instant::now();
    let message_id = message.message_id.as_deref().unwrap_or_default();
    let receive_count = message
        .attributes
        .get("ApproximateReceiveCount")
        .map(String::as_str)
        .unwrap_or("?");
    let request = match decode(enroller.tenant_id(), message) {
        Ok(request) => request,
        Err(why) => {
            // Never the body: it may be anything, including personal data.
            tracing::error!(
                message_id,
                why = why.as_str(),
                "message is not an enroll request for this tenant; dropped"
            );
            metrics.failed(Disposition::Permanent);
            return Settle::Ack;
        }
    };
    let report = enroller
        .enroll_user_by(&request.user_id, &request.trigger, deadline)
        .await;
    let settle = report.settle();
    emit(metrics, &report);
    metrics.latency_ms(started.elapsed().as_secs_f64() * 1000.0);
    log(&report, message_id, receive_count, settle);
    settle
}

fn decode(tenant_id: &str, message: &SqsMessage) -> Result<EnrollRequest, Malformed> {
    let body = message.body.as_deref().ok_or(Malformed::NoBody)?;
    let request = decode_body(body).map_err(|_| Malformed::NotAnEnrollRequest)?;
    if !request.tenant_id.eq_ignore_ascii_case(tenant_id) {
        return Err(Malformed::OtherTenant);
    }
    // Only object ids are queued (the webhook and reconcile read them from Graph); they name
    // the message group, so a UPN here would put one user in two groups.
    if !ids::is_guid(&request.user_id) {
        return Err(Malformed::BadUserId);
    }
    Ok(request)
}

fn emit(metrics: &EmfMetrics, report: &UserReport) {
    use autoenroll_core::outcome::Outcome;
    match &report.result {
        UserResult::Finished(Outcome::Done { actions, .. }) if !actions.is_empty() => {
            metrics.enrolled();
        }
        UserResult::Finished(Outcome::Done { .. }) => metrics.skipped("alreadyEnrolled"),
        UserResult::Finished(Outcome::Skipped(reason)) => metrics.skipped(metric_reason(reason)),
        UserResult::Finished(Outcome::Failed { .. }) | UserResult::ReadFailed(_) => {
            if let Some(disposition) = report.disposition() {
                metrics.failed(disposition);
            }
        }
    }
    if report.was_throttled() {
        metrics.graph_throttled(1);
    }
    for stage in report.bootstrap_stages() {
        metrics.bootstrap(stage);
    }
}

/// The reason dimension: the skip reason's name without its detail (a fixed, small set).
fn metric_reason(reason: &autoenroll_core::plan::SkipReason) -> &'static str {
    use autoenroll_core::plan::SkipReason;
    match reason {
        SkipReason::Deleted => "deleted",
        SkipReason::Excluded(_) => "excluded",
        SkipReason::Guest => "guest",
        SkipReason::Disabled => "disabled",
        SkipReason::OutOfScope => "outOfScope",
        SkipReason::NoNumber => "noNumber",
        SkipReason::InvalidNumber(_) => "invalidNumber",
        SkipReason::NotAMobileNumber => "notAMobileNumber",
        SkipReason::SelfRegisteredPhoneDiffers => "selfRegisteredPhoneDiffers",
        SkipReason::NumberChangedReportOnly => "numberChangedReportOnly",
        SkipReason::ManagedPhoneRemoved => "managedPhoneRemoved",
        SkipReason::MfaStateUnknown => "mfaStateUnknown",
        SkipReason::PhoneNotDelivered => "phoneNotDelivered",
        SkipReason::TapNotAllowedByPolicy => "tapNotAllowedByPolicy",
        SkipReason::NoPassRecipient(_) => "noPassRecipient",
        SkipReason::BootstrapExpired => "bootstrapExpired",
    }
}

fn log(report: &UserReport, message_id: &str, receive_count: &str, settle: Settle) {
    let outcome = report.label();
    let actions: Vec<String> = report
        .plan
        .as_ref()
        .map(|p| p.actions().iter().map(|a| a.label()).collect())
        .unwrap_or_default();
    match (&report.result, settle) {
        (UserResult::ReadFailed(e), _) => tracing::warn!(
            message_id,
            receive_count,
            user_id = %report.user_id,
            error = %e.cause(),
            disposition = e.cause().disposition().as_str(),
            "user could not be read"
        ),
        (_, Settle::Retry) => tracing::warn!(
            message_id,
            receive_count,
            user_id = %report.user_id,
            outcome,
            error = report.error_text().unwrap_or_default(),
            disposition = report.disposition().map(|d| d.as_str()).unwrap_or_default(),
            ?actions,
            "user not finished; the message will be delivered again"
        ),
        (_, Settle::Ack) => tracing::info!(
            message_id,
            user_id = %report.user_id,
            outcome,
            ?actions,
            "user handled"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn message(id: &str, group: Option<&str>) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        if let Some(g) = group {
            m.attributes = HashMap::from([("MessageGroupId".to_owned(), g.to_owned())]);
        }
        m
    }

    fn ids(groups: &[Vec<&SqsMessage>]) -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|g| g.iter().map(|m| m.message_id.clone().unwrap()).collect())
            .collect()
    }

    #[test]
    fn messages_are_grouped_by_group_id_in_batch_order() {
        let records = vec![
            message("a1", Some("A")),
            message("b1", Some("B")),
            message("a2", Some("A")),
            message("x", None),
            message("b2", Some("B")),
        ];
        assert_eq!(
            ids(&group_in_order(&records)),
            vec![vec!["a1", "a2"], vec!["b1", "b2"], vec!["x"]]
        );
    }

    #[test]
    fn body_for_another_tenant_or_with_a_upn_is_malformed() {
        let tenant = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";
        let body = |tenant: &str, user: &str| {
            serde_json::json!({
                "tenantId": tenant, "userId": user, "trigger": {"kind": "reconcile"},
                "observedAt": "2026-01-01T00:00:00Z", "dedupKey": "k"
            })
            .to_string()
        };
        let mut m = message("m", None);
        m.body = Some(body(tenant, "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01"));
        assert!(decode(tenant, &m).is_ok());
        m.body = Some(body(
            "00000000-0000-0000-0000-000000000000",
            "4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01",
        ));
        assert_eq!(decode(tenant, &m).unwrap_err(), Malformed::OtherTenant);
        m.body = Some(body(tenant, "adele.vance@contoso.com"));
        assert_eq!(decode(tenant, &m).unwrap_err(), Malformed::BadUserId);
        m.body = Some("{\"mobilePhone\":\"+31 612345678\"}".into());
        assert_eq!(
            decode(tenant, &m).unwrap_err(),
            Malformed::NotAnEnrollRequest
        );
        m.body = None;
        assert_eq!(decode(tenant, &m).unwrap_err(), Malformed::NoBody);
    }
}
