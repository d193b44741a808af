//! Checks of free text as users send it: trimmed, bounded, without control characters
//! (NUL among them, which Postgres cannot store), each failure a `BAD_USER_INPUT`
//! naming the field.

use crate::error::{AppError, AppResult};

pub fn text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` needs 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Empty text counts as absent.
pub fn optional_text(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    match value {
        Some(v) if !v.trim().is_empty() => text(field, &v, max).map(Some),
        _ => Ok(None),
    }
}

/// Whether `c` is a control character other than a line break or a tab (NUL among
/// them, which Postgres cannot store in text).
pub fn is_control_but_line_break(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

pub fn url(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    match optional_text(field, value, 500)? {
        Some(u)
            if !(u.starts_with("https://") || u.starts_with("http://"))
                || u.contains(char::is_whitespace) =>
        {
            Err(AppError::bad_input(
                field,
                format!("`{field}` must be an http(s) URL"),
            ))
        }
        other => Ok(other),
    }
}

pub fn names(field: &str, values: Vec<String>) -> AppResult<Vec<String>> {
    if values.len() > 50 {
        return Err(AppError::bad_input(
            field,
            format!("at most 50 entries in `{field}`"),
        ));
    }
    values.iter().map(|v| text(field, v, 100)).collect()
}
