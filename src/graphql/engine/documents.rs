//! Parsed queries, kept by their text. Clients send the same few queries over and
//! over, and parsing one with async-graphql's parser (pest) took about 9 % of the
//! server's CPU in the holds benchmark; a parsed document is cloned instead.
//!
//! Bounded: queries longer than [`MAX_QUERY_BYTES`] are not kept, and when
//! [`MAX_DOCUMENTS`] are kept the cache starts again empty, so distinct queries sent to
//! fill it cost memory only up to the bound and the hot ones come back at once.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use async_graphql::Request;
use async_graphql::parser::types::ExecutableDocument;

pub const MAX_DOCUMENTS: usize = 512;
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

type Documents = HashMap<Arc<str>, Arc<ExecutableDocument>>;

static DOCUMENTS: LazyLock<Mutex<Documents>> = LazyLock::new(Default::default);

/// Gives the request its parsed document, from the cache when its text is known.
/// A query that does not parse is left to the executor to report.
pub fn parse(request: &mut Request) {
    if request.query.len() > MAX_QUERY_BYTES {
        return;
    }
    let known = DOCUMENTS
        .lock()
        .ok()
        .and_then(|documents| documents.get(request.query.as_str()).cloned());
    if let Some(document) = known {
        request.set_parsed_query((*document).clone());
        return;
    }
    let Ok(document) = request.parsed_query() else {
        return;
    };
    let document = Arc::new(document.clone());
    if let Ok(mut documents) = DOCUMENTS.lock() {
        if documents.len() >= MAX_DOCUMENTS {
            documents.clear();
        }
        documents.insert(Arc::from(request.query.as_str()), document);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(query: &str) -> bool {
        DOCUMENTS.lock().is_ok_and(|d| d.contains_key(query))
    }

    // One test, so that no other test clears the cache under it.
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

        for i in 0..(MAX_DOCUMENTS + 10) {
            let mut request = Request::new(format!("{{ bounded{i}: __typename }}"));
            parse(&mut request);
        }
        assert!(DOCUMENTS.lock().is_ok_and(|d| d.len() <= MAX_DOCUMENTS));
        assert!(kept(&format!(
            "{{ bounded{}: __typename }}",
            MAX_DOCUMENTS + 9
        )));
    }
}
