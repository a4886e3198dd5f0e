//! Telling people about incidents. `mail` delivers over SMTP; `page_mail` writes the page.

pub mod health;
pub mod mail;
pub mod page_mail;
pub mod webhook;
