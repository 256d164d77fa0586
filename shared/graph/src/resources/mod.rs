//! The typed Graph calls, organised by resource (octocrab style): `graph.users().get(..)`,
//! `graph.phone_methods(user).add(..)`, …

pub mod conditional_access;
pub mod directory_roles;
pub mod groups;
pub mod manager;
pub mod methods;
pub mod policies;
pub mod preferences;
pub mod reports;
pub mod secure_score;
pub mod subscriptions;
pub mod users;

/// Joins a `$select` list.
pub(crate) fn select_list<S: AsRef<str>>(fields: &[S]) -> String {
    fields
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}
