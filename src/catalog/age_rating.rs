//! A film's age rating: the rating system (MPAA, BBFC, FSK, ...), the rating's code in
//! it (R, 15, 12) and the youngest age it admits (17, 15, 12). The minimum age is
//! given by the admin rather than derived from the code: systems differ (an MPAA R
//! admits under-17s with a parent, a BBFC 15 nobody under 15) and the cinema applies
//! its own reading. Checkout refuses a CHILD ticket to a film whose minimum age is
//! above the child age (`catalog.child_max_age`).

use crate::error::{AppError, AppResult};
use crate::text::text;

pub const MAX_MIN_AGE: i32 = 21;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeRating {
    pub system: String,
    pub code: String,
    pub min_age: i32,
}

impl AgeRating {
    /// Checks a rating as an admin sends it (`field` is the input's name, e.g.
    /// `ageRating`).
    pub fn checked(field: &str, system: &str, code: &str, min_age: i32) -> AppResult<Self> {
        let system = text(&format!("{field}.system"), system, 16)?.to_ascii_uppercase();
        let code = text(&format!("{field}.code"), code, 16)?;
        if !(0..=MAX_MIN_AGE).contains(&min_age) {
            return Err(AppError::bad_input(
                format!("{field}.minAge"),
                format!("a minimum age is 0 to {MAX_MIN_AGE}"),
            ));
        }
        Ok(Self {
            system,
            code,
            min_age,
        })
    }

    /// As printed on tickets and emails: `BBFC 15`.
    pub fn label(&self) -> String {
        format!("{} {}", self.system, self.code)
    }

    /// The three stored columns, all set or all null.
    pub fn from_columns(
        system: Option<&str>,
        code: Option<&str>,
        min_age: Option<i32>,
    ) -> Option<Self> {
        Some(Self {
            system: system?.to_owned(),
            code: code?.to_owned(),
            min_age: min_age?,
        })
    }
}
