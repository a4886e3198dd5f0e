//! The demo's people: an admin, two managers, five responders around the world, a viewer.

/// (name, e-mail, role, time zone)
pub const TEAM: &[(&str, &str, &str, &str)] = &[
    (
        "Alice Chen",
        "alice@demo.lookout.dev",
        "admin",
        "Europe/Berlin",
    ),
    (
        "Marco Rossi",
        "marco@demo.lookout.dev",
        "manager",
        "Europe/Rome",
    ),
    (
        "Priya Nair",
        "priya@demo.lookout.dev",
        "manager",
        "Asia/Kolkata",
    ),
    (
        "Sam Okafor",
        "sam@demo.lookout.dev",
        "responder",
        "Europe/London",
    ),
    (
        "Lena Fischer",
        "lena@demo.lookout.dev",
        "responder",
        "Europe/Berlin",
    ),
    (
        "Diego Alvarez",
        "diego@demo.lookout.dev",
        "responder",
        "America/New_York",
    ),
    (
        "Yuki Tanaka",
        "yuki@demo.lookout.dev",
        "responder",
        "Asia/Tokyo",
    ),
    (
        "Omar Haddad",
        "omar@demo.lookout.dev",
        "responder",
        "Australia/Sydney",
    ),
    (
        "Grace Kim",
        "grace@demo.lookout.dev",
        "viewer",
        "America/Los_Angeles",
    ),
];
