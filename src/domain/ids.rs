//! Identifiers: UUIDv7 as text, made in Rust so both databases agree and ids sort by creation time.

/// A new time-ordered identifier (UUIDv7, lower-case hyphenated).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// Whether `raw` looks like an id this program made; lets handlers answer 404 without a query.
pub fn is_valid_id(raw: &str) -> bool {
    uuid::Uuid::try_parse(raw).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_in_creation_order() {
        let ids: Vec<String> = (0..100).map(|_| new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|id| is_valid_id(id)));
        assert!(!is_valid_id("../etc/passwd"));
    }
}
