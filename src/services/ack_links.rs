//! One-click acknowledge links in page e-mails. The link names one incident and one person and
//! expires; it is an HMAC under the installation's key, so nothing is stored and a link cannot be
//! turned into another incident's or another person's. Opening it shows a confirmation; only the
//! button acknowledges, so a mail scanner that fetches every link acknowledges nothing.

use chrono::{DateTime, Duration, Utc};

use crate::db::repo::users;
use crate::domain::ids::is_valid_id;
use crate::domain::user::User;
use crate::error::AppError;
use crate::services::incidents::{self, ActionResult};
use crate::state::AppState;

const PURPOSE: &str = "ack-link";
/// A page is about now; a link a day old is not.
pub const VALID_FOR: Duration = Duration::hours(24);

/// What an acknowledge link carries.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct AckLink {
    /// The person's id.
    pub u: String,
    /// Expiry, seconds since the epoch.
    pub e: i64,
    /// The signature.
    pub t: String,
}

fn message(incident_id: &str, user_id: &str, expires: i64) -> String {
    format!("{incident_id}:{user_id}:{expires}")
}

/// The absolute link for `user_id` to acknowledge `incident_id`, valid for a day from `now`.
pub fn url(st: &AppState, incident_id: &str, user_id: &str, now: DateTime<Utc>) -> String {
    let expires = (now + VALID_FOR).timestamp();
    let token = st
        .secret
        .sign(PURPOSE, &message(incident_id, user_id, expires));
    st.base_url.join(&format!(
        "/ack/{incident_id}?u={user_id}&e={expires}&t={token}"
    ))
}

/// The person the link speaks for, if it is genuine, unexpired and they are still active.
pub async fn holder(st: &AppState, incident_id: &str, link: &AckLink) -> Result<User, AppError> {
    let genuine = is_valid_id(incident_id)
        && is_valid_id(&link.u)
        && st
            .secret
            .verify(PURPOSE, &message(incident_id, &link.u, link.e), &link.t);
    if !genuine {
        return Err(AppError::Forbidden);
    }
    if st.clock.now().timestamp() > link.e {
        return Err(AppError::Conflict(
            "this link has expired; sign in to acknowledge the incident".into(),
        ));
    }
    let user_id = link.u.clone();
    st.db
        .read(move |c| users::find(c, &user_id).map_err(AppError::from))
        .await?
        .filter(|u| u.active)
        .ok_or(AppError::Forbidden)
}

/// Acknowledges through a link: the same rule, timeline and audit entry as the button.
pub async fn acknowledge(
    st: &AppState,
    incident_id: &str,
    link: &AckLink,
    ip: Option<String>,
) -> Result<ActionResult, AppError> {
    let user = holder(st, incident_id, link).await?;
    incidents::acknowledge_as(st, &user, ip, incident_id).await
}
