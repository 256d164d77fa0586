//! The messages that carry a Temporary Access Pass: pure functions of the [`PassNotice`].
//!
//! The e-mail goes to the manager, who hands the pass to the new user in person or by phone;
//! the SMS goes to the user's own directory mobile. Both name the user, say when the pass
//! becomes valid (UTC: we do not know the reader's time zone), how long it lasts, whether it
//! works once, and the steps: <https://aka.ms/mysecurityinfo>, sign in with the pass, add a
//! passkey. A one-time pass used to register a passkey must be used within 10 minutes of the
//! sign-in (graph-spec/PASSKEY-ERA.md §3), so the e-mail says so.
//!
//! The pass appears exactly once, in the body only (never in the subject, which mail servers
//! log). The SMS is kept to one segment where the names allow it ([`sms_segments`]).

use autoenroll_graph::Secret;
use time::OffsetDateTime;
use time::macros::format_description;

use super::{Channel, PassNotice};

/// Where the user registers a passkey (Microsoft's short link to My Security Info).
pub const SECURITY_INFO_URL: &str = "https://aka.ms/mysecurityinfo";

/// An outgoing message. The body holds the pass, so it is a [`Secret`]: `Debug` shows the
/// subject only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// E-mail subject; `None` for an SMS.
    pub subject: Option<String>,
    pub body: Secret,
}

/// The message for `channel`.
pub fn compose(channel: Channel, notice: &PassNotice) -> Message {
    match channel {
        Channel::ManagerEmail => compose_email(notice),
        Channel::MobileSms => compose_sms(notice),
    }
}

/// `2027-03-01 08:00 UTC`.
pub fn format_utc(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| at.to_string())
}

/// `45 minutes`, `1 hour`, `8 hours`, `1 hour 30 minutes`, `3 days`.
pub fn format_lifetime(minutes: u32) -> String {
    let plural = |n: u32, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if minutes >= 1440 && minutes.is_multiple_of(1440) {
        return plural(minutes / 1440, "day");
    }
    match (minutes / 60, minutes % 60) {
        (0, m) => plural(m, "minute"),
        (h, 0) => plural(h, "hour"),
        (h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
    }
}

fn user_label(notice: &PassNotice) -> String {
    match notice.display_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => format!("{name} ({})", notice.user_principal_name),
        _ => notice.user_principal_name.clone(),
    }
}

fn first_name_or_user(notice: &PassNotice) -> String {
    notice
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("the new user")
        .to_owned()
}

/// The e-mail to the manager.
pub fn compose_email(notice: &PassNotice) -> Message {
    let user = user_label(notice);
    let who = first_name_or_user(notice);
    let start = format_utc(notice.starts_at);
    let end = format_utc(notice.ends_at());
    let lifetime = format_lifetime(notice.lifetime_minutes);
    let usage = if notice.usable_once {
        "one sign-in only"
    } else {
        "any number of sign-ins until it expires"
    };
    let one_time_note = if notice.usable_once {
        "\n   The pass works once: finish adding the passkey within 10 minutes of signing in."
    } else {
        ""
    };
    let upn = &notice.user_principal_name;
    let url = SECURITY_INFO_URL;
    let pass = notice.pass.expose();
    let body = format!(
        "Hello,\n\
         \n\
         A Temporary Access Pass was issued for your new team member {user}. \
         It lets them set up their sign-in. Please give it to them in person or by phone, \
         not by e-mail or chat, and delete this message afterwards.\n\
         \n\
         Temporary Access Pass: {pass}\n\
         Valid from:  {start}\n\
         Valid for:   {lifetime} (until {end})\n\
         Use:         {usage}\n\
         \n\
         How {who} signs in for the first time:\n\
         1. Go to {url} and sign in as {upn}.\n\
         2. When asked, enter the Temporary Access Pass instead of a password.\n\
         3. Choose \"Add sign-in method\", then \"Passkey\", and follow the steps.{one_time_note}\n\
         \n\
         From then on {who} signs in with the passkey. If the pass expires before it is \
         used, a new one is issued. If you did not expect this message, tell your IT \
         helpdesk.\n"
    );
    Message {
        subject: Some(format!("Sign-in pass for your new team member {user}")),
        body: Secret::new(body),
    }
}

/// The SMS to the user's directory mobile: the longest wording that fits one segment, else
/// the shortest (a name or pass outside the GSM alphabet can make any wording longer).
pub fn compose_sms(notice: &PassNotice) -> Message {
    let candidates = sms_candidates(notice);
    let body = candidates
        .iter()
        .find(|text| sms_segments(text) == 1)
        .or(candidates.last())
        .cloned()
        .unwrap_or_default();
    Message {
        subject: None,
        body: Secret::new(body),
    }
}

fn sms_candidates(notice: &PassNotice) -> Vec<String> {
    let pass = notice.pass.expose();
    let upn = &notice.user_principal_name;
    let start = format_utc(notice.starts_at);
    let lifetime = format_lifetime(notice.lifetime_minutes);
    let once = if notice.usable_once { ", one use" } else { "" };
    let short_url = SECURITY_INFO_URL.trim_start_matches("https://");
    let mut out = Vec::new();
    if let Some(name) = notice.display_name.as_deref().map(str::trim)
        && !name.is_empty()
    {
        out.push(format!(
            "{name} ({upn}), your sign-in pass: {pass} Valid from {start} for {lifetime}{once}. \
             Sign in at {short_url} with it and add a passkey."
        ));
    }
    out.push(format!(
        "Sign-in pass for {upn}: {pass} Valid from {start} for {lifetime}{once}. \
         Sign in at {short_url} with it and add a passkey."
    ));
    out.push(format!(
        "{upn} pass: {pass} From {start}, {lifetime}{once}. {short_url}: add a passkey"
    ));
    out
}

/// GSM 03.38 default alphabet (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table (escape + one septet: two each).
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{000C}";

/// How many SMS segments `text` takes: GSM-7 when every character is in the GSM alphabet
/// (160 septets in one segment, 153 each when concatenated), else UCS-2 (70 UTF-16 units, 67
/// when concatenated).
pub fn sms_segments(text: &str) -> usize {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (units, single, multi) = if gsm {
        (septets, 160, 153)
    } else {
        (text.encode_utf16().count(), 70, 67)
    };
    if units <= single {
        1
    } else {
        units.div_ceil(multi)
    }
}
