//! The background delivery worker: payloads, batching, retries and completion.

use std::time::Duration as StdDuration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::*;
use crate::AppState;
use crate::state::{ChangeKind, Tenant};
use crate::subscriptions::{SubscriptionRecord, Target};

/// Graph's `subscriptionExpirationDateTime` in notifications: `+00:00` and 7 fractional digits,
/// as in the users example payload.
pub(super) fn format_offset(at: OffsetDateTime) -> String {
    let s = crate::subscriptions::format_graph_datetime(at);
    format!("{}+00:00", s.trim_end_matches('Z'))
}

/// .NET ticks (100 ns since 0001-01-01): what Graph's directory `sequenceNumber` looks like.
pub(super) fn dotnet_ticks(at: OffsetDateTime) -> i64 {
    let hundred_ns = (at.unix_timestamp_nanos() / 100) as i64;
    hundred_ns.saturating_add(621_355_968_000_000_000)
}

fn change_notification(
    sub: &SubscriptionRecord,
    tenant_id: &str,
    user_id: &str,
    change_type: &str,
    event_at: OffsetDateTime,
) -> Value {
    json!({
        "changeType": change_type,
        "clientState": sub.client_state,
        "resource": format!("Users/{user_id}"),
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.User",
            "@odata.id": format!("Users/{user_id}"),
            "id": user_id,
            "organizationId": tenant_id,
            "eventTime": crate::subscriptions::format_graph_datetime(event_at),
            "sequenceNumber": dotnet_ticks(event_at),
        },
        "subscriptionExpirationDateTime": format_offset(sub.expiration),
        "subscriptionId": sub.id,
        "tenantId": tenant_id,
    })
}

fn lifecycle_notification(sub: &SubscriptionRecord, tenant_id: &str) -> Value {
    json!({
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": format_offset(sub.expiration),
        "tenantId": tenant_id,
        "clientState": sub.client_state,
        "lifecycleEvent": "reauthorizationRequired",
    })
}

/// One POST about to be made.
#[derive(Debug)]
pub(super) struct Batch {
    url: String,
    lifecycle: bool,
    pub(super) items: Vec<Pending>,
    pub(super) body: Value,
}

/// Starts background delivery; it stops on `AppState::shutdown_signal`.
pub(crate) fn start(state: &AppState) {
    let seed = state.control.rng.lock().random::<u64>();
    let clients = match HttpClients::new() {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "could not build the notification HTTP client; deliveries and handshakes will fail");
            None
        }
    };
    let options = state.notifications.clone();
    state.tenant.with(|t| {
        let cursor = t.changes.last().map_or(0, |c| c.seq);
        let d = &mut t.subscriptions.delivery;
        d.options = options;
        d.rng = StdRng::seed_from_u64(seed);
        d.cursor = cursor;
        d.clients = clients;
    });
    tokio::spawn(run(state.clone()));
}

async fn run(state: AppState) {
    let mut changes = state.tenant.subscribe_changes();
    let shutdown = state.shutdown_signal();
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            received = changes.recv() => {
                // Only a wake-up: the change log itself is read below, so a lagging receiver
                // loses nothing.
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = received {
                    break;
                }
            }
            _ = tick.tick() => {}
        }
        let now = state.now();
        let (batches, clients) = state.tenant.with(|t| {
            let batches = plan(t, now);
            (batches, t.subscriptions.delivery.clients.clone())
        });
        let Some(clients) = clients else { continue };
        for batch in batches {
            tokio::spawn(deliver(state.clone(), clients.clone(), batch));
        }
    }
}

/// One pass: expire subscriptions, turn new changes into notifications, send challenges, and
/// cut the POSTs that are due.
fn plan(t: &mut Tenant, now: OffsetDateTime) -> Vec<Batch> {
    t.subscriptions.delivery.counters.worker_passes += 1;
    t.subscriptions.remove_expired(now);
    ingest(t);
    challenge(t, now);
    collect_due(t, now)
}

fn ingest(t: &mut Tenant) {
    let events = t.changes_since(t.subscriptions.delivery.cursor);
    let Some(last) = events.last() else { return };
    let last_seq = last.seq;
    let store = &mut t.subscriptions;
    for event in events {
        let change_type = match event.kind {
            // Creation and soft deletion both arrive as `updated` (resources/subscription.md).
            ChangeKind::Created | ChangeKind::Updated | ChangeKind::Deleted => "updated",
            // Not a user property change: no notification (see state.rs).
            ChangeKind::AuthenticationChanged => continue,
        };
        let targets: Vec<(String, String, bool)> = store
            .items
            .values()
            .filter(|s| s.created_after_seq < event.seq && event.at < s.expiration)
            .filter(|s| s.change_types.iter().any(|c| c == change_type))
            .filter(|s| match &s.target {
                Target::AllUsers => true,
                Target::User(id) => *id == event.user_id,
            })
            .map(|s| {
                (
                    s.id.clone(),
                    s.notification_url.clone(),
                    s.delivery_paused(event.at),
                )
            })
            .collect();
        let d = &mut store.delivery;
        for (sub_id, url, paused) in targets {
            if paused {
                d.counters.lost_while_paused += 1;
                continue;
            }
            if d.chance(d.options.drop_rate) {
                d.counters.dropped += 1;
                continue;
            }
            let kind = PendingKind::Change {
                user_id: event.user_id.clone(),
                change_type,
                event_at: event.at,
            };
            let delay = Duration::milliseconds(d.options.delay_ms as i64);
            let due = event.at + delay + d.jitter();
            d.push(&sub_id, &url, kind.clone(), due);
            if d.chance(d.options.duplicate_rate) {
                d.counters.duplicated += 1;
                // The copy comes a little later, usually in another POST.
                let due = due + Duration::seconds(1) + d.jitter();
                d.push(&sub_id, &url, kind, due);
            }
        }
    }
    store.delivery.cursor = last_seq;
}

fn challenge(t: &mut Tenant, now: OffsetDateTime) {
    let store = &mut t.subscriptions;
    let mut due = Vec::new();
    for sub in store.items.values_mut() {
        let Some(url) = sub.lifecycle_notification_url.clone() else {
            continue;
        };
        let remaining = sub.expiration - now;
        if remaining > REAUTH_WINDOW || remaining <= Duration::ZERO {
            continue;
        }
        let r = &mut sub.reauthorization;
        if r.last_challenge
            .is_some_and(|last| now - last < REAUTH_REPEAT)
        {
            continue;
        }
        r.last_challenge = Some(now);
        r.outstanding_since.get_or_insert(now);
        r.challenges_sent += 1;
        due.push((sub.id.clone(), url));
    }
    for (id, url) in due {
        store
            .delivery
            .push(&id, &url, PendingKind::Reauthorization, now);
    }
}

pub(super) fn collect_due(t: &mut Tenant, now: OffsetDateTime) -> Vec<Batch> {
    let tenant_id = t.id.clone();
    let store = &mut t.subscriptions;
    let d = &mut store.delivery;
    if d.queue.is_empty() {
        return Vec::new();
    }
    // Oldest first (and by queue order for equal due times).
    d.queue.sort_by_key(|p| (p.due, p.id));
    let mut keep = Vec::with_capacity(d.queue.len());
    let mut groups: Vec<((String, bool), Vec<Pending>)> = Vec::new();
    for mut p in std::mem::take(&mut d.queue) {
        if !store.items.contains_key(&p.subscription_id) {
            d.counters.orphaned += 1;
            continue;
        }
        if p.due > now {
            keep.push(p);
            continue;
        }
        let key = (p.url.clone(), p.is_lifecycle());
        if d.in_flight.contains(&key) {
            keep.push(p);
            continue;
        }
        // Slow-endpoint throttling (delivery-webhooks.md).
        if !p.is_lifecycle() {
            let stats = d.endpoints.get(&p.url);
            let slow_share = stats
                .filter(|s| now - s.window_start < SLOW_WINDOW && s.notifications >= SLOW_SAMPLE)
                .map(|s| s.slow as f64 / s.notifications as f64);
            match slow_share {
                Some(share) if share >= 0.15 => {
                    d.counters.throttled_dropped += 1;
                    continue;
                }
                Some(share) if share >= 0.10 && !p.slow_delayed => {
                    d.counters.throttled_delayed += 1;
                    p.slow_delayed = true;
                    p.due = now + SLOW_DELAY;
                    keep.push(p);
                    continue;
                }
                _ => {}
            }
        }
        // One POST per endpoint per pass; what does not fit waits for the next.
        match groups.iter().position(|(k, _)| *k == key) {
            Some(i) if groups[i].1.len() < d.options.max_batch => groups[i].1.push(p),
            Some(_) => keep.push(p),
            None => groups.push((key, vec![p])),
        }
    }
    d.queue = keep;
    let mut batches = Vec::new();
    for ((url, lifecycle), mut items) in groups {
        if d.options.reorder {
            items.shuffle(&mut d.rng);
        }
        let value: Vec<Value> = items
            .iter()
            .filter_map(|p| {
                let sub = store.items.get(&p.subscription_id)?;
                Some(match &p.kind {
                    PendingKind::Change {
                        user_id,
                        change_type,
                        event_at,
                    } => change_notification(sub, &tenant_id, user_id, change_type, *event_at),
                    PendingKind::Reauthorization => lifecycle_notification(sub, &tenant_id),
                })
            })
            .collect();
        for p in &mut items {
            p.first_attempt.get_or_insert(now);
            p.attempts += 1;
        }
        d.in_flight.insert((url.clone(), lifecycle));
        d.in_flight_items += items.len() as u64;
        batches.push(Batch {
            url,
            lifecycle,
            items,
            body: json!({ "value": value }),
        });
    }
    batches
}

/// Exponential backoff between attempts (docs silent on the schedule): 1, 2, 4 … minutes,
/// at most 60.
pub(super) fn backoff(attempts: u32) -> Duration {
    let minutes = 1i64 << attempts.saturating_sub(1).min(6);
    Duration::minutes(minutes.min(60))
}

#[derive(Debug)]
struct Outcome {
    ok: bool,
    slow: bool,
}

async fn deliver(state: AppState, clients: HttpClients, batch: Batch) {
    let timeout = state
        .tenant
        .with(|t| t.subscriptions.delivery.options.response_timeout_ms);
    let shutdown = state.shutdown_signal();
    let outcome = tokio::select! {
        _ = shutdown => return,
        o = post(&clients, &batch, StdDuration::from_millis(timeout)) => o,
    };
    let now = state.now();
    state
        .tenant
        .with(|t| complete(&mut t.subscriptions.delivery, batch, outcome, now));
}

async fn post(clients: &HttpClients, batch: &Batch, timeout: StdDuration) -> Outcome {
    let started = std::time::Instant::now();
    let Ok(url) = url::Url::parse(&batch.url) else {
        return Outcome {
            ok: false,
            slow: false,
        };
    };
    let request = clients
        .for_url(&url)
        .post(url.clone())
        .header("content-type", "application/json; charset=utf-8")
        .body(batch.body.to_string());
    let exchange = async {
        let response = request.send().await?;
        let status = response.status();
        // Read the body so the response really completed within the limit.
        let _ = response.bytes().await?;
        Ok::<_, reqwest::Error>(status)
    };
    let result = tokio::time::timeout(timeout, exchange).await;
    let slow = started.elapsed().as_millis() > SLOW_MS;
    let ok = matches!(result, Ok(Ok(status)) if status.is_success());
    if !ok {
        // Never log the body: it carries the clientState.
        let why = match &result {
            Err(_) => "timed out".to_string(),
            Ok(Err(e)) => format!("request failed: {e}"),
            Ok(Ok(status)) => format!("status {status}"),
        };
        tracing::debug!(items = batch.items.len(), lifecycle = batch.lifecycle, %why, "notification POST failed");
    }
    Outcome { ok, slow }
}

fn complete(d: &mut Delivery, batch: Batch, outcome: Outcome, now: OffsetDateTime) {
    let n = batch.items.len() as u64;
    d.in_flight.remove(&(batch.url.clone(), batch.lifecycle));
    d.in_flight_items = d.in_flight_items.saturating_sub(n);
    d.counters.posts += 1;
    if !batch.lifecycle {
        let stats = d
            .endpoints
            .entry(batch.url.clone())
            .or_insert(EndpointStats {
                window_start: now,
                notifications: 0,
                slow: 0,
            });
        if now - stats.window_start >= SLOW_WINDOW {
            *stats = EndpointStats {
                window_start: now,
                notifications: 0,
                slow: 0,
            };
        }
        stats.notifications += n;
        if outcome.slow {
            stats.slow += n;
        }
    }
    if outcome.ok {
        if batch.lifecycle {
            d.counters.lifecycle_delivered += n;
        } else {
            d.counters.delivered += n;
        }
        return;
    }
    d.counters.failed_posts += 1;
    for mut p in batch.items {
        let first = p.first_attempt.unwrap_or(now);
        if now - first >= RETRY_WINDOW {
            d.counters.discarded += 1;
            continue;
        }
        p.due = now + backoff(p.attempts);
        d.counters.retried += 1;
        d.queue.push(p);
    }
}
