//! `autoenroll doctor`'s permission table and the simulator's (tests/graph-sim/src/permissions.rs)
//! are two copies of learn.microsoft.com's "Permissions" tables; these tests fail when they drift.

use std::collections::BTreeSet;

use autoenroll_cli::doctor::{ROUTE_ROLES, readiness_roles, required_roles};
use autoenroll_core::policy::{MfaMode, Policy};

#[test]
fn every_route_doctor_knows_accepts_exactly_the_simulators_roles() {
    for (method, template, roles) in ROUTE_ROLES {
        assert_eq!(
            graph_sim::route_permissions(method, template),
            Some(*roles),
            "{method} {template}: doctor and graph-sim disagree"
        );
    }
}

#[test]
fn every_role_set_doctor_asks_for_stands_for_a_checked_route() {
    let policies = [
        Policy::default(),
        Policy {
            mfa_mode: MfaMode::PerUserEnforced,
            set_sms_default: false,
            ..Policy::default()
        },
        Policy {
            mfa_mode: MfaMode::Group("c0a80101-5e1f-4c3a-8d2b-000000000001".into()),
            ..Policy::default()
        },
        Policy {
            mfa_mode: MfaMode::None,
            excluded_groups: BTreeSet::from(["c0a80101-5e1f-4c3a-8d2b-000000000002".to_string()]),
            ..Policy::default()
        },
    ];
    let mut seen = 0;
    for policy in &policies {
        for need in required_roles(policy).into_iter().chain(readiness_roles()) {
            seen += 1;
            assert!(
                ROUTE_ROLES
                    .iter()
                    .any(|(_, _, roles)| *roles == need.any_of),
                "doctor's roles for '{}' ({:?}) map to no route checked against graph-sim",
                need.purpose,
                need.any_of
            );
        }
    }
    assert!(seen >= 6);
}
