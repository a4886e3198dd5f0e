//! How Lookout reaches each person: contact methods and notification rules, and the list of
//! messages a page turns into for one person.

use chrono::{DateTime, Utc};

use crate::db::repo::contacts::{self as repo, ContactRow, NewContact, NewRule, RuleRow};
use crate::db::repo::from_db;
use crate::db::{DbConn, is_unique_violation};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::contact::{
    ContactKind, MAX_METHODS, MAX_RULES, contact_address, contact_label, delay_text, rule_delay,
};
use crate::domain::ids::{is_valid_id, new_id};
use crate::domain::user::User;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::audit;
use crate::state::AppState;

/// The value forms and the API use for "the account e-mail" where a method id goes.
pub const ACCOUNT: &str = "account";

/// One way to reach a person. The account e-mail is one too, with no id: it cannot be removed.
#[derive(Debug, Clone)]
pub struct ContactMethod {
    pub id: Option<String>,
    pub kind: ContactKind,
    pub address: String,
    pub label: String,
    /// Webhooks: the key their posts are signed with (HMAC-SHA256), shown to the owner.
    pub secret: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

impl ContactMethod {
    fn account(user: &User) -> Self {
        ContactMethod {
            id: None,
            kind: ContactKind::Email,
            address: user.email.clone(),
            label: "account e-mail".into(),
            secret: None,
            created_at: None,
        }
    }

    fn from_row(row: ContactRow) -> Result<Self, AppError> {
        let kind = ContactKind::parse(&row.kind).map_err(AppError::Internal)?;
        Ok(ContactMethod {
            id: Some(row.id),
            kind,
            address: row.address,
            label: row.label,
            secret: row.secret,
            created_at: Some(from_db(row.created_at)),
        })
    }

    /// The value that names this method in forms and the API.
    pub fn key(&self) -> &str {
        self.id.as_deref().unwrap_or(ACCOUNT)
    }

    /// "e-mail ana@example.org (phone)".
    pub fn describe(&self) -> String {
        if self.label.is_empty() {
            format!("{} {}", self.kind.label(), self.address)
        } else {
            format!("{} {} ({})", self.kind.label(), self.address, self.label)
        }
    }
}

/// "Use this method this long after the page."
#[derive(Debug, Clone)]
pub struct Rule {
    /// `None` for the rule everyone has until they write their own.
    pub id: Option<String>,
    pub method: ContactMethod,
    pub delay_minutes: i32,
}

impl Rule {
    pub fn when(&self) -> String {
        delay_text(self.delay_minutes)
    }
}

/// A person's methods and rules.
#[derive(Debug, Clone)]
pub struct Reach {
    pub methods: Vec<ContactMethod>,
    pub rules: Vec<Rule>,
    /// True while the person has written no rules of their own: they are e-mailed at once.
    pub default_rules: bool,
}

fn load(c: &mut DbConn, user: &User) -> Result<Reach, AppError> {
    let mut methods = vec![ContactMethod::account(user)];
    for row in repo::contacts_of(c, &user.id)? {
        methods.push(ContactMethod::from_row(row)?);
    }
    let rows = repo::rules_of(c, &user.id)?;
    let default_rules = rows.is_empty();
    let rules = if default_rules {
        vec![Rule {
            id: None,
            method: methods[0].clone(),
            delay_minutes: 0,
        }]
    } else {
        rows.into_iter()
            .filter_map(|r: RuleRow| {
                let key = r.contact_method_id.as_deref().unwrap_or(ACCOUNT);
                let method = methods.iter().find(|m| m.key() == key)?.clone();
                Some(Rule {
                    id: Some(r.id),
                    method,
                    delay_minutes: r.delay_minutes,
                })
            })
            .collect()
    };
    Ok(Reach {
        methods,
        rules,
        default_rules,
    })
}

pub async fn reach_of(st: &AppState, user: &User) -> Result<Reach, AppError> {
    let user = user.clone();
    st.db.read(move |c| load(c, &user)).await
}

/// One message a page becomes for one person.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Part of the outbox's idempotency key: the same rule is not used twice for one cause.
    pub key: String,
    pub channel: ContactKind,
    pub address: String,
    pub contact_method_id: Option<String>,
    pub delay_minutes: i32,
}

/// Where a page to `user` goes, by their rules. Without rules: the account e-mail at once,
/// under the key pages had before rules existed.
pub fn destinations(c: &mut DbConn, user: &User) -> Result<Vec<Destination>, AppError> {
    let reach = load(c, user)?;
    Ok(reach
        .rules
        .into_iter()
        .map(|rule| Destination {
            key: rule.id.clone().unwrap_or_else(|| "email".into()),
            channel: rule.method.kind,
            address: rule.method.address.clone(),
            contact_method_id: rule.method.id.clone(),
            delay_minutes: rule.delay_minutes,
        })
        .collect())
}

#[derive(Debug, Clone, Default)]
pub struct MethodInput {
    pub kind: String,
    pub address: String,
    pub label: String,
}

pub async fn add_method(
    st: &AppState,
    user: &User,
    actor: &Actor,
    input: &MethodInput,
) -> Result<ContactMethod, AppError> {
    let mut errors = FieldErrors::new();
    let kind = errors.check("kind", ContactKind::parse(&input.kind));
    let address = kind.and_then(|k| errors.check("address", contact_address(k, &input.address)));
    let label = errors.check("label", contact_label(&input.label));
    let (Some(kind), Some(address), Some(label)) = (kind, address, label) else {
        return Err(AppError::Invalid(errors));
    };
    if kind == ContactKind::Email && address.eq_ignore_ascii_case(&user.email) {
        return Err(AppError::invalid(
            "address",
            "that is your account e-mail already",
        ));
    }
    let (user, actor, now) = (user.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            if repo::contacts_of(c, &user.id)?.len() >= MAX_METHODS {
                return Err(AppError::Conflict(format!(
                    "at most {MAX_METHODS} contact methods; remove one first"
                )));
            }
            let id = new_id();
            let secret = (kind == ContactKind::Webhook).then(|| crate::crypto::random_token(24));
            let new = NewContact {
                id: &id,
                user_id: &user.id,
                kind: kind.as_str(),
                address: &address,
                label: &label,
                secret: secret.as_deref(),
                now,
            };
            match repo::insert_contact(c, &new) {
                Err(e) if is_unique_violation(&e) => {
                    return Err(AppError::Conflict(format!(
                        "you have the {} {address} already",
                        kind.label()
                    )));
                }
                other => other?,
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ContactMethodAdded,
                Some(("user", &user.id)),
                &format!("{}: {} {address}", user.email, kind.label()),
            )?;
            let row = repo::find_contact(c, &id)?.ok_or(AppError::NotFound)?;
            ContactMethod::from_row(row)
        })
        .await
}

/// Removes a method and the rules that use it; refused when that would leave no rule at all.
pub async fn remove_method(
    st: &AppState,
    user: &User,
    actor: &Actor,
    id: &str,
) -> Result<(), AppError> {
    let (id, user, actor, now) = (id.to_owned(), user.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            if !is_valid_id(&id) {
                return Err(AppError::NotFound);
            }
            let row = repo::find_contact(c, &id)?
                .filter(|r| r.user_id == user.id)
                .ok_or(AppError::NotFound)?;
            let rules = repo::rules_of(c, &user.id)?;
            if !rules.is_empty()
                && rules
                    .iter()
                    .all(|r| r.contact_method_id.as_deref() == Some(id.as_str()))
            {
                return Err(AppError::Conflict(
                    "every notification rule you have uses this method: add a rule for another \
                     one first, so that Lookout can still reach you"
                        .into(),
                ));
            }
            repo::delete_contact(c, &id)?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ContactMethodRemoved,
                Some(("user", &user.id)),
                &format!("{}: {} {} removed", user.email, row.kind, row.address),
            )?;
            Ok(())
        })
        .await
}

#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    /// A method's id, or `account` (also when empty) for the account e-mail.
    pub contact: String,
    pub delay_minutes: i64,
}

pub async fn add_rule(
    st: &AppState,
    user: &User,
    actor: &Actor,
    input: &RuleInput,
) -> Result<Rule, AppError> {
    let delay =
        rule_delay(input.delay_minutes).map_err(|m| AppError::invalid("delay_minutes", m))?;
    let contact = match input.contact.trim() {
        "" | ACCOUNT => None,
        id => Some(id.to_owned()),
    };
    let (user, actor, now) = (user.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let reach = load(c, &user)?;
            let key = contact.as_deref().unwrap_or(ACCOUNT);
            let Some(method) = reach.methods.iter().find(|m| m.key() == key).cloned() else {
                return Err(AppError::invalid(
                    "contact",
                    "choose one of your contact methods",
                ));
            };
            if reach.rules.len() >= MAX_RULES && !reach.default_rules {
                return Err(AppError::Conflict(format!(
                    "at most {MAX_RULES} rules; remove one first"
                )));
            }
            if reach
                .rules
                .iter()
                .any(|r| r.method.key() == key && r.delay_minutes == delay)
            {
                return Err(AppError::Conflict(format!(
                    "you have that rule already: {} {}",
                    method.describe(),
                    delay_text(delay)
                )));
            }
            // The implicit "account e-mail at once" becomes a rule of its own the moment the
            // person writes one, so adding a webhook does not silently stop the e-mail.
            if reach.default_rules {
                repo::insert_rule(
                    c,
                    &NewRule {
                        id: &new_id(),
                        user_id: &user.id,
                        contact_method_id: None,
                        delay_minutes: 0,
                        now,
                    },
                )?;
            }
            let id = new_id();
            let new = NewRule {
                id: &id,
                user_id: &user.id,
                contact_method_id: contact.as_deref(),
                delay_minutes: delay,
                now,
            };
            match repo::insert_rule(c, &new) {
                Err(e) if is_unique_violation(&e) => {
                    return Err(AppError::Conflict("you have that rule already".into()));
                }
                other => other?,
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::NotificationRuleAdded,
                Some(("user", &user.id)),
                &format!(
                    "{}: {} {}",
                    user.email,
                    method.describe(),
                    delay_text(delay)
                ),
            )?;
            Ok(Rule {
                id: Some(id),
                method,
                delay_minutes: delay,
            })
        })
        .await
}

/// Removes a rule; the last one stays, so that a page always reaches the person somehow.
pub async fn remove_rule(
    st: &AppState,
    user: &User,
    actor: &Actor,
    id: &str,
) -> Result<(), AppError> {
    let (id, user, actor, now) = (id.to_owned(), user.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            if !is_valid_id(&id) {
                return Err(AppError::NotFound);
            }
            let reach = load(c, &user)?;
            let Some(rule) = reach
                .rules
                .iter()
                .find(|r| r.id.as_deref() == Some(id.as_str()))
            else {
                return Err(AppError::NotFound);
            };
            if reach.rules.len() == 1 {
                return Err(AppError::Conflict(
                    "this is your only notification rule: add another before removing it, so \
                     that Lookout can still reach you"
                        .into(),
                ));
            }
            repo::delete_rule(c, &id)?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::NotificationRuleRemoved,
                Some(("user", &user.id)),
                &format!(
                    "{}: {} {} removed",
                    user.email,
                    rule.method.describe(),
                    rule.when()
                ),
            )?;
            Ok(())
        })
        .await
}

/// What a test message did.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub delivered: bool,
    pub detail: String,
}

/// Sends a test message to one of the caller's methods at once (not through the outbox: the
/// person is waiting for the answer), so they can see a webhook or an address works before it
/// matters. A few per person and second at most: an address is anyone's mailbox.
pub async fn send_test(st: &AppState, user: &User, key: &str) -> Result<TestResult, AppError> {
    let reach = reach_of(st, user).await?;
    let method = reach
        .methods
        .into_iter()
        .find(|m| m.key() == key)
        .ok_or(AppError::NotFound)?;
    let limit = crate::domain::service::RateLimit {
        per_second: 1,
        burst: 3,
    };
    if let Err(wait) = st.limiter.take(
        &format!("contact-test:{}", user.id),
        limit,
        1,
        st.clock.now(),
    ) {
        return Err(AppError::TooManyRequests {
            message: format!("test messages go out one a second; try again in {wait} s"),
            retry_after_secs: wait,
        });
    }
    let profile = st.base_url.join("/profile#reach");
    let text = format!(
        "This is a test from Lookout for {}.\n\nWhen a step pages you, your notification rules \
         use this {}. Nothing needs doing.\n\nYour rules: {profile}\n",
        user.name,
        method.kind.label()
    );
    let outcome = match method.kind {
        ContactKind::Email => match &st.mailer {
            None => Err("e-mail is off (LOOKOUT_SMTP_URL is not set)".to_owned()),
            Some(mailer) => {
                let mail = crate::notify::mail::OutgoingMail {
                    to: method.address.clone(),
                    subject: "Lookout test: this is how you are paged".into(),
                    html: format!(
                        "<p>{}</p>",
                        askama::filters::escape(&text, askama::filters::Html)
                            .map(|s| s.to_string())
                            .unwrap_or_default()
                            .replace("\n\n", "</p><p>")
                    ),
                    text: text.clone(),
                    message_id: format!("<test-{}@lookout>", new_id()),
                };
                mailer.send(&mail).await.map_err(|e| e.to_string())
            }
        },
        ContactKind::Webhook => {
            let body = serde_json::json!({
                "event": "test",
                "message": text,
                "recipient": {"id": user.id, "email": user.email, "name": user.name},
            });
            let body = serde_json::to_vec(&body).map_err(|e| AppError::Internal(e.to_string()))?;
            let request = crate::notify::webhook::signed_post(
                &st.http,
                &method.address,
                "test",
                method.secret.as_deref(),
                body,
            );
            match request.send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!(
                    "the receiver answered HTTP {}",
                    r.status().as_u16()
                )),
                Err(e) => Err(e.without_url().to_string()),
            }
        }
    };
    Ok(match outcome {
        Ok(()) => TestResult {
            delivered: true,
            detail: format!("Test sent to {}.", method.describe()),
        },
        Err(e) => TestResult {
            delivered: false,
            detail: format!("The test to {} failed: {e}", method.describe()),
        },
    })
}

/// The choices of the rule form: (value, text), the account e-mail first.
pub fn method_options(reach: &Reach) -> Vec<(String, String)> {
    reach
        .methods
        .iter()
        .map(|m| (m.key().to_owned(), m.describe()))
        .collect()
}
