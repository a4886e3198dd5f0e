//! `/services`: what can break, who owns it, and where its alerts come from.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{PageCtx, form_errors, page, render};
use crate::domain::incident::IntegrationKind;
use crate::domain::service::{Integration, Service};
use crate::domain::severity::Severity;
use crate::domain::user::User;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::catalog::{self, IntegrationInput, ServiceInput};
use crate::services::escalation;
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};
use crate::web::snippets::Snippets;

#[derive(Template)]
#[template(path = "services/list.html")]
pub struct ServicesPage {
    pub ctx: PageCtx,
    pub services: Vec<Service>,
    pub owners: Vec<User>,
    /// (id, name) of every escalation policy, for the picker.
    pub policies: Vec<(String, String)>,
    pub form: ServiceForm,
    pub errors: FieldErrors,
    pub show_archived: bool,
}

#[derive(Template)]
#[template(path = "services/show.html")]
pub struct ServicePage {
    pub ctx: PageCtx,
    pub service: Service,
    pub owner: Option<User>,
    pub owners: Vec<User>,
    pub policies: Vec<(String, String)>,
    pub integrations: Vec<Integration>,
    pub form: ServiceForm,
    pub errors: FieldErrors,
    pub integration_errors: FieldErrors,
}

impl ServicePage {
    pub fn kinds(&self) -> [IntegrationKind; 4] {
        IntegrationKind::ALL
    }
}

#[derive(Template)]
#[template(path = "services/integration.html")]
pub struct IntegrationPage {
    pub ctx: PageCtx,
    pub service: Service,
    pub integration: Integration,
    /// Set right after creating or rotating: the key, shown this once.
    pub new_key: Option<String>,
    pub snippets: Snippets,
    pub form: IntegrationInput,
    pub errors: FieldErrors,
}

impl IntegrationPage {
    pub fn severities(&self) -> [Severity; 4] {
        Severity::ALL
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ServiceForm {
    pub name: String,
    pub description: String,
    pub owner: String,
    pub escalation_policy_id: String,
    pub webhook_url: String,
    pub webhook_format: String,
}

impl ServiceForm {
    fn input(&self) -> ServiceInput {
        ServiceInput {
            name: self.name.clone(),
            description: self.description.clone(),
            owner: self.owner.clone(),
            escalation_policy: self.escalation_policy_id.clone(),
            webhook_url: self.webhook_url.clone(),
            webhook_format: self.webhook_format.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub archived: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewIntegrationForm {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IntegrationForm {
    pub name: String,
    pub severity_label: String,
    pub severity_words: String,
    pub default_severity: String,
    pub per_alert: Option<String>,
    pub rate_limit_per_second: String,
    pub rate_limit_burst: String,
    pub signing_secret: String,
}

impl IntegrationForm {
    fn input(&self) -> IntegrationInput {
        IntegrationInput {
            name: self.name.clone(),
            severity_label: self.severity_label.clone(),
            severity_words: self.severity_words.clone(),
            default_severity: self.default_severity.clone(),
            per_alert: self.per_alert.is_some(),
            rate_limit_per_second: self.rate_limit_per_second.clone(),
            rate_limit_burst: self.rate_limit_burst.clone(),
            signing_secret: self.signing_secret.clone(),
        }
    }
}

pub async fn list(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Viewer>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let show_archived = query.archived.is_some();
    page(&ServicesPage {
        services: catalog::list_services(&st, show_archived).await?,
        owners: catalog::possible_owners(&st).await?,
        policies: escalation::choices(&st).await?,
        form: ServiceForm::default(),
        errors: FieldErrors::new(),
        show_archived,
        ctx,
    })
}

pub async fn create(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    form: web::Form<ServiceForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    match catalog::create_service(&st, &who.actor(Some(ip.0)), &form.input()).await {
        Ok(service) => Ok(redirect_with(
            &format!("/services/{}", service.id),
            Flash::success(format!(
                "Service '{}' created. Add an integration so alerts can reach it.",
                service.name
            )),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ServicesPage {
                    services: catalog::list_services(&st, false).await?,
                    owners: catalog::possible_owners(&st).await?,
                    policies: escalation::choices(&st).await?,
                    form,
                    errors,
                    show_archived: false,
                    ctx,
                },
            )
        }
    }
}

async fn service_page(st: &AppState, ctx: PageCtx, id: &str) -> Result<ServicePage, AppError> {
    let service = catalog::get_service(st, id).await?;
    let owners = catalog::possible_owners(st).await?;
    let owner = match &service.owner_id {
        Some(owner_id) => crate::services::users::get(st, owner_id).await.ok(),
        None => None,
    };
    Ok(ServicePage {
        form: ServiceForm {
            name: service.name.clone(),
            description: service.description.clone(),
            owner: owner.as_ref().map(|o| o.email.clone()).unwrap_or_default(),
            escalation_policy_id: service.escalation_policy_id.clone().unwrap_or_default(),
            webhook_url: service.webhook_url.clone().unwrap_or_default(),
            webhook_format: service.webhook_format.clone(),
        },
        policies: escalation::choices(st).await?,
        integrations: catalog::list_integrations(st, &service.id).await?,
        errors: FieldErrors::new(),
        integration_errors: FieldErrors::new(),
        owner,
        owners,
        service,
        ctx,
    })
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    page(&service_page(&st, ctx, &path).await?)
}

pub async fn update(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<ServiceForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    match catalog::update_service(&st, &who.actor(Some(ip.0)), &path, &form.input()).await {
        Ok(service) => Ok(redirect_with(
            &format!("/services/{}", service.id),
            Flash::success("Service saved."),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let mut p = service_page(&st, ctx, &path).await?;
            p.form = form;
            p.errors = errors;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

pub async fn archive(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let service = catalog::set_archived(&st, &who.actor(Some(ip.0)), &path, true).await?;
    Ok(redirect_with(
        &format!("/services/{}", service.id),
        Flash::success(format!(
            "'{}' is archived: its history stays, new alerts are refused.",
            service.name
        )),
    ))
}

pub async fn restore(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let service = catalog::set_archived(&st, &who.actor(Some(ip.0)), &path, false).await?;
    Ok(redirect_with(
        &format!("/services/{}", service.id),
        Flash::success(format!("'{}' is active again.", service.name)),
    ))
}

fn integration_page(
    st: &AppState,
    ctx: PageCtx,
    service: Service,
    integration: Integration,
    new_key: Option<String>,
) -> IntegrationPage {
    let snippets = Snippets::new(&st.base_url, &integration, new_key.as_deref());
    IntegrationPage {
        form: IntegrationInput::from_integration(&integration),
        errors: FieldErrors::new(),
        ctx,
        service,
        integration,
        new_key,
        snippets,
    }
}

pub async fn create_integration(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<NewIntegrationForm>,
) -> Result<HttpResponse, AppError> {
    let service_id = path.into_inner();
    let name = Some(form.name.as_str());
    match catalog::create_integration(&st, &who.actor(Some(ip.0)), &service_id, &form.kind, name)
        .await
    {
        Ok(issued) => {
            let service = catalog::get_service(&st, &service_id).await?;
            render(
                StatusCode::CREATED,
                &integration_page(&st, ctx, service, issued.integration, Some(issued.key)),
            )
        }
        Err(AppError::Invalid(errors)) => {
            let mut p = service_page(&st, ctx, &service_id).await?;
            p.integration_errors = errors;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(AppError::Conflict(message)) => Ok(redirect_with(
            &format!("/services/{service_id}"),
            Flash::error(message),
        )),
        Err(e) => Err(e),
    }
}

pub async fn show_integration(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Manager>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (service_id, id) = path.into_inner();
    let service = catalog::get_service(&st, &service_id).await?;
    let integration = catalog::get_integration(&st, &service_id, &id).await?;
    page(&integration_page(&st, ctx, service, integration, None))
}

pub async fn update_integration(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
    form: web::Form<IntegrationForm>,
) -> Result<HttpResponse, AppError> {
    let (service_id, id) = path.into_inner();
    let input = form.input();
    match catalog::update_integration(&st, &who.actor(Some(ip.0)), &service_id, &id, &input).await {
        Ok(_) => Ok(redirect_with(
            &format!("/services/{service_id}/integrations/{id}"),
            Flash::success("Integration settings saved."),
        )),
        Err(AppError::Invalid(errors)) => {
            let service = catalog::get_service(&st, &service_id).await?;
            let integration = catalog::get_integration(&st, &service_id, &id).await?;
            let mut p = integration_page(&st, ctx, service, integration, None);
            p.form = input;
            p.errors = errors;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(AppError::Conflict(message)) => Ok(redirect_with(
            &format!("/services/{service_id}/integrations/{id}"),
            Flash::error(message),
        )),
        Err(e) => Err(e),
    }
}

pub async fn rotate_key(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (service_id, id) = path.into_inner();
    let issued = catalog::rotate_key(&st, &who.actor(Some(ip.0)), &service_id, &id).await?;
    let service = catalog::get_service(&st, &service_id).await?;
    page(&integration_page(
        &st,
        ctx,
        service,
        issued.integration,
        Some(issued.key),
    ))
}

pub async fn revoke_integration(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (service_id, id) = path.into_inner();
    let integration =
        catalog::revoke_integration(&st, &who.actor(Some(ip.0)), &service_id, &id).await?;
    Ok(redirect_with(
        &format!("/services/{service_id}"),
        Flash::success(format!(
            "Integration '{}' revoked; its key no longer works.",
            integration.name
        )),
    ))
}
