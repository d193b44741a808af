//! What every cursor-paged list answers beside its rows (`paging::Page` reads them).

use async_graphql::SimpleObject;

/// Where a page ends: pass `endCursor` as `after` for the next one.
#[derive(SimpleObject, Clone)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// The last row's cursor; null on an empty page.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    pub fn new(more: bool, last: Option<uuid::Uuid>) -> Self {
        Self {
            has_next_page: more,
            end_cursor: last.map(|id| id.to_string()),
        }
    }
}
