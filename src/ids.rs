//! Parsing the string IDs clients send into UUIDs, naming the field when they are not.

use uuid::Uuid;

use crate::error::{AppError, AppResult};

pub fn parse_uuid(field: &str, raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| AppError::bad_input(field, format!("`{field}` is not a valid ID")))
}
