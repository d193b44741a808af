//! Every field argument of a document, in its operations and its fragments: what the
//! error labelling (`observe`) and the NUL check (`nul`) look through.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Pos, Positioned};
use async_graphql_value::Value;

/// One argument of a field.
pub struct Argument<'a> {
    /// The field it is given to.
    pub field: &'a str,
    pub name: &'a str,
    pub value: &'a Value,
    /// Where its value stands in the query.
    pub pos: Pos,
}

pub fn arguments(document: &ExecutableDocument) -> Vec<Argument<'_>> {
    fn walk<'a>(set: &'a Positioned<SelectionSet>, out: &mut Vec<Argument<'a>>) {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    out.extend(field.arguments.iter().map(|(name, value)| Argument {
                        field: field.name.node.as_str(),
                        name: name.node.as_str(),
                        value: &value.node,
                        pos: value.pos,
                    }));
                    walk(&field.selection_set, out);
                }
                Selection::InlineFragment(fragment) => walk(&fragment.node.selection_set, out),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    for (_, operation) in document.operations.iter() {
        walk(&operation.node.selection_set, &mut out);
    }
    for fragment in document.fragments.values() {
        walk(&fragment.node.selection_set, &mut out);
    }
    out
}
