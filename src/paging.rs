//! Cursor pages of a caller's own lists (`myBookings`, `notifications`), newest first:
//! `first` rows after the row whose id is the cursor `after`. Keyset, not offset: a
//! row written while someone pages neither repeats nor hides one.

use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Rows a page holds when the client does not say.
pub const DEFAULT_FIRST: i32 = 50;
/// The most rows a page may hold.
pub const MAX_FIRST: i32 = 100;

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub first: i64,
    /// The id of the last row of the page before.
    pub after: Option<Uuid>,
}

impl Page {
    /// `first` from 1 to [`MAX_FIRST`]; `after` an id the caller was given as a cursor.
    pub fn new(first: Option<i32>, after: Option<&str>) -> AppResult<Self> {
        let first = first.unwrap_or(DEFAULT_FIRST);
        if !(1..=MAX_FIRST).contains(&first) {
            return Err(AppError::bad_input(
                "first",
                format!("first must be between 1 and {MAX_FIRST}"),
            ));
        }
        let after = after
            .map(|cursor| {
                Uuid::parse_str(cursor)
                    .map_err(|_| AppError::bad_input("after", "not a cursor this list gave"))
            })
            .transpose()?;
        Ok(Self {
            first: i64::from(first),
            after,
        })
    }

    /// The rows one more than asked were read for: the page, and whether more follow.
    pub fn split<T>(&self, mut rows: Vec<T>) -> (Vec<T>, bool) {
        let more = rows.len() as i64 > self.first;
        rows.truncate(self.first as usize);
        (rows, more)
    }
}

/// A cursor (`after`) that names no row of the list: the caller was not given it.
pub fn unknown_cursor() -> AppError {
    AppError::bad_input("after", "not a cursor this list gave")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_checked_and_split() {
        assert_eq!(Page::new(None, None).unwrap().first, 50);
        for bad in [0, -1, 101] {
            let Err(AppError::BadInput { field, .. }) = Page::new(Some(bad), None) else {
                panic!("{bad} accepted");
            };
            assert_eq!(field, "first");
        }
        let Err(AppError::BadInput { field, .. }) = Page::new(None, Some("nope")) else {
            panic!("a bad cursor accepted");
        };
        assert_eq!(field, "after");
        let page = Page::new(Some(2), None).unwrap();
        assert_eq!(page.split(vec![1, 2, 3]), (vec![1, 2], true));
        assert_eq!(page.split(vec![1, 2]), (vec![1, 2], false));
    }
}
