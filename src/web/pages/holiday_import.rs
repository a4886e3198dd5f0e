//! `POST /schedules/{id}/holidays/import`: the upload form in the Holidays section of a
//! schedule's page. The CSRF guard has already found the token among the parts.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;

use crate::domain::holiday_calendar::{CalendarError, MAX_BYTES};
use crate::error::AppError;
use crate::services::holiday_import::{self, ImportCounts};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};

/// The form's file input.
const FILE_FIELD: &str = "file";

pub async fn import(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    parts: Multipart,
) -> Result<HttpResponse, AppError> {
    let back = format!("/schedules/{}#holidays", path.as_str());
    let file = match uploaded_file(parts).await? {
        Ok(file) => file,
        Err(message) => return Ok(redirect_with(&back, Flash::error(message))),
    };
    match holiday_import::import_holidays(&st, &who.actor(Some(ip.0)), &path, &file).await {
        Ok(counts) => Ok(redirect_with(&back, Flash::success(summary(counts)))),
        Err(AppError::Invalid(errors)) => {
            let why = errors
                .get("file")
                .map_or_else(|| errors.summary(), str::to_owned);
            Ok(redirect_with(
                &back,
                Flash::error(format!("Nothing was imported: {why}.")),
            ))
        }
        Err(e) => Err(e),
    }
}

/// The file's bytes, or what to tell the person when there is none to import. A body that is
/// not multipart at all is a bad request: no form of ours sends one.
async fn uploaded_file(mut parts: Multipart) -> Result<Result<web::Bytes, String>, AppError> {
    while let Some(part) = parts.next().await {
        let mut part = part.map_err(|e| {
            AppError::BadRequest(format!("send the file as multipart/form-data: {e}"))
        })?;
        if part.name() != Some(FILE_FIELD) {
            continue;
        }
        let chosen = part
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .is_some_and(|name| !name.is_empty());
        return Ok(match part.bytes(MAX_BYTES).await {
            Err(_) => Err(format!(
                "Nothing was imported: {}.",
                CalendarError::TooLarge
            )),
            Ok(Err(e)) => {
                return Err(AppError::BadRequest(format!(
                    "the upload could not be read: {e}"
                )));
            }
            Ok(Ok(bytes)) if bytes.is_empty() && !chosen => {
                Err("Choose an .ics file to import first.".to_owned())
            }
            Ok(Ok(bytes)) => Ok(bytes),
        });
    }
    Ok(Err("Choose an .ics file to import first.".to_owned()))
}

fn summary(c: ImportCounts) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut text = format!(
        "Imported {} ({} already there).",
        plural(c.added, "holiday", "holidays"),
        c.already_there
    );
    if c.skipped > 0 {
        text.push_str(&format!(
            " {} skipped: repeating, cancelled, undated or month-long events are not imported.",
            plural(c.skipped, "event", "events")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_in_words() {
        let one = ImportCounts {
            added: 1,
            already_there: 0,
            skipped: 0,
        };
        assert_eq!(summary(one), "Imported 1 holiday (0 already there).");
        let more = ImportCounts {
            added: 9,
            already_there: 2,
            skipped: 1,
        };
        assert_eq!(
            summary(more),
            "Imported 9 holidays (2 already there). 1 event skipped: repeating, cancelled, undated or month-long events are not imported."
        );
    }
}
