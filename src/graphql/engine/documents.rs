//! Parsed queries, kept by their text. Clients send the same few queries over and
//! over, and parsing one with async-graphql's parser (pest) took about 9 % of the
//! server's CPU in the holds benchmark; a parsed document is cloned instead.
//!
//! Bounded: queries longer than [`MAX_QUERY_BYTES`] are not kept, and at most
//! [`MAX_DOCUMENTS`] are. The cache is `moka`'s, whose admission (TinyLFU) weighs how
//! often a query was asked for: distinct queries sent to fill it cost memory only up
//! to the bound and cannot push out the ones clients keep sending.

use std::sync::{Arc, LazyLock};

use async_graphql::Request;
use async_graphql::parser::types::ExecutableDocument;
use moka::sync::Cache;

pub const MAX_DOCUMENTS: usize = 512;
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

static DOCUMENTS: LazyLock<Cache<Arc<str>, Arc<ExecutableDocument>>> =
    LazyLock::new(|| Cache::new(MAX_DOCUMENTS as u64));

/// Gives the request its parsed document, from the cache when its text is known.
/// A query that does not parse is left to the executor to report.
pub fn parse(request: &mut Request) {
    if request.query.len() > MAX_QUERY_BYTES {
        return;
    }
    if let Some(document) = DOCUMENTS.get(request.query.as_str()) {
        request.set_parsed_query((*document).clone());
        return;
    }
    let Ok(document) = request.parsed_query() else {
        return;
    };
    let document = Arc::new(document.clone());
    DOCUMENTS.insert(Arc::from(request.query.as_str()), document);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(query: &str) -> bool {
        DOCUMENTS.contains_key(query)
    }

    // One test, so that no other test fills the cache under it.
    #[test]
    fn known_queries_come_from_the_cache_within_its_bound() {
        let query = "query Known($id: ID!) { movie(id: $id) { title } }";
        let mut first = Request::new(query);
        parse(&mut first);
        assert!(kept(query));
        let mut second = Request::new(query);
        parse(&mut second);
        let (first, second) = (first.parsed_query(), second.parsed_query());
        assert_eq!(
            format!("{:?}", first.map_err(|e| e.message)),
            format!("{:?}", second.map_err(|e| e.message))
        );

        let mut broken = Request::new("{ movie(");
        parse(&mut broken);
        assert!(broken.parsed_query().is_err());
        assert!(!kept("{ movie("));

        let long = format!("{{ __typename {} }}", " ".repeat(MAX_QUERY_BYTES));
        let mut request = Request::new(long.clone());
        parse(&mut request);
        assert!(request.parsed_query().is_ok());
        assert!(!kept(&long));

        // The known query is asked for again and again while a flood of distinct
        // ones tries to fill the cache: it stays, and the cache keeps its bound.
        for i in 0..(4 * MAX_DOCUMENTS) {
            let mut request = Request::new(format!("{{ bounded{i}: __typename }}"));
            parse(&mut request);
            let mut known = Request::new(query);
            parse(&mut known);
        }
        DOCUMENTS.run_pending_tasks();
        assert!(DOCUMENTS.entry_count() <= MAX_DOCUMENTS as u64);
        assert!(kept(query));
    }
}
