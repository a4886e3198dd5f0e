//! Extractors that say, in a handler's signature, who may call it.
//!
//! `RequireRole<role::Manager>` admits managers and admins and nobody else; the check happens on
//! the server before the handler body runs. Missing credentials give 401 (pages: a redirect to
//! sign in), too small a role gives 403.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::domain::user::Role;
use crate::error::AppError;
use crate::services::auth::{AuthMethod, Principal};

/// Role markers for [`RequireRole`].
pub mod role {
    use crate::domain::user::Role;

    pub trait MinRole {
        const ROLE: Role;
    }

    pub struct Viewer;
    pub struct Responder;
    pub struct Manager;
    pub struct Admin;

    impl MinRole for Viewer {
        const ROLE: Role = Role::Viewer;
    }
    impl MinRole for Responder {
        const ROLE: Role = Role::Responder;
    }
    impl MinRole for Manager {
        const ROLE: Role = Role::Manager;
    }
    impl MinRole for Admin {
        const ROLE: Role = Role::Admin;
    }
}

/// A signed-in user whose role is at least `R`.
pub struct RequireRole<R: role::MinRole> {
    pub principal: Principal,
    _role: PhantomData<R>,
}

impl<R: role::MinRole> Deref for RequireRole<R> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

fn principal_of(req: &HttpRequest) -> Result<Principal, AppError> {
    req.extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(AppError::Unauthenticated)
}

/// The role check itself, shared by every extractor.
pub fn authorize(principal: &Principal, required: Role) -> Result<(), AppError> {
    // A reset password must be replaced before the browser session does anything else; API tokens
    // were issued by the person themselves and keep working.
    if principal.user.must_change_password && matches!(principal.method, AuthMethod::Session { .. })
    {
        return Err(AppError::PasswordChangeRequired);
    }
    if principal.user.role.allows(required) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

impl<R: role::MinRole> FromRequest for RequireRole<R> {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(req).and_then(|principal| {
            authorize(&principal, R::ROLE)?;
            Ok(RequireRole {
                principal,
                _role: PhantomData,
            })
        }))
    }
}

/// Anyone signed in, even with a password change pending (their profile and sign-out pages).
pub struct SignedIn(pub Principal);

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(req).map(SignedIn))
    }
}

/// The address of the peer, for the audit log and sign-in lockouts.
pub struct ClientIp(pub String);

impl ClientIp {
    pub fn of(req: &HttpRequest) -> String {
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}

impl FromRequest for ClientIp {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientIp(Self::of(req))))
    }
}
