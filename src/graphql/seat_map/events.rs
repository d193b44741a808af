//! A seat map change event's GraphQL payload, built once per process, showtime and
//! selection instead of once per subscriber.
//!
//! Change events are the same for every subscriber of a showtime (`heldByMe` only
//! appears in snapshots), so when a subscription's selection is plain fields (no
//! fragments, directives or repeated keys) its payload can be written here directly,
//! shared by every subscriber that asked for the same fields. Anything else goes
//! through the executor as usual; `tests/it/seat_map_fast_paths.rs` checks that both
//! give the same JSON.
//! Names (`__typename`, the states) come from the GraphQL types themselves.

use std::hash::{Hash, Hasher};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::resolver_utils::enum_value;
use async_graphql::{OutputType, Value};
use uuid::Uuid;

use crate::graphql::scalars::int;
use crate::seating::graphql::{SeatChangeObject, SeatMapEventObject, SeatStateGql};
use crate::seating::seat_map::SeatState;

/// What a subscription asked of each `SeatMapEvent`, in the order it asked.
#[derive(Debug, Hash, PartialEq, Eq)]
pub struct EventPlan {
    /// The response key of the `seatMap` field (its alias, or `seatMap`).
    key: String,
    fields: Vec<(String, EventField)>,
}

#[derive(Debug, Hash, PartialEq, Eq)]
enum EventField {
    ShowtimeId,
    Version,
    Epoch,
    AvailableSeats,
    /// Always null in a change event, whatever was selected inside it.
    Snapshot,
    Typename,
    Changes(Vec<(String, ChangeField)>),
}

#[derive(Debug, Hash, PartialEq, Eq)]
enum ChangeField {
    Number,
    State,
    Typename,
}

/// The plan for a request's document, when it is a `seatMap` subscription whose
/// events can be shared; `None` sends it through the executor.
pub fn plan(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<EventPlan> {
    let operation = operation(document, operation_name)?;
    if operation.ty != OperationType::Subscription || !operation.directives.is_empty() {
        return None;
    }
    let [root] = plain_fields(&operation.selection_set.node)?[..] else {
        return None;
    };
    if root.name.node != "seatMap" {
        return None;
    }
    let mut fields = Vec::new();
    for field in plain_fields(&root.selection_set.node)? {
        let kind = match field.name.node.as_str() {
            "showtimeId" => EventField::ShowtimeId,
            "version" => EventField::Version,
            "epoch" => EventField::Epoch,
            "availableSeats" => EventField::AvailableSeats,
            "snapshot" => EventField::Snapshot,
            "__typename" => EventField::Typename,
            "changes" => {
                let mut inner = Vec::new();
                for change in plain_fields(&field.selection_set.node)? {
                    let kind = match change.name.node.as_str() {
                        "number" => ChangeField::Number,
                        "state" => ChangeField::State,
                        "__typename" => ChangeField::Typename,
                        _ => return None,
                    };
                    if !change.arguments.is_empty() || !change.selection_set.node.items.is_empty() {
                        return None;
                    }
                    inner.push((change.response_key().node.to_string(), kind));
                }
                EventField::Changes(inner)
            }
            _ => return None,
        };
        let scalar = !matches!(kind, EventField::Snapshot | EventField::Changes(_));
        if !field.arguments.is_empty() || (scalar && !field.selection_set.node.items.is_empty()) {
            return None;
        }
        fields.push((field.response_key().node.to_string(), kind));
    }
    Some(EventPlan {
        key: root.response_key().node.to_string(),
        fields,
    })
}

fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a async_graphql::parser::types::OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), None) => Some(&op.node),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The fields of a selection set, when it is nothing but fields without directives
/// and with distinct response keys (the executor merges repeated keys; we do not).
fn plain_fields(set: &SelectionSet) -> Option<Vec<&async_graphql::parser::types::Field>> {
    let mut fields = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        if !field.node.directives.is_empty() {
            return None;
        }
        let key = field.node.response_key();
        if fields
            .iter()
            .any(|f: &&async_graphql::parser::types::Field| f.response_key().node == key.node)
        {
            return None;
        }
        fields.push(&field.node);
    }
    Some(fields)
}

impl EventPlan {
    /// Subscriptions with equal plans share their payloads.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }

    /// The `payload` of a `next` message for one change event, its keys in the order
    /// the selection gave them (as the executor writes them).
    pub fn render(
        &self,
        showtime: Uuid,
        version: i64,
        epoch: &str,
        changes: &[(String, SeatState)],
        available: usize,
    ) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(64 + 48 * changes.len());
        out.push_str("{\"data\":{");
        quoted(&mut out, &self.key);
        out.push_str(":{");
        for (i, (key, field)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            quoted(&mut out, key);
            out.push(':');
            // Writing to a String cannot fail.
            let _ = match field {
                EventField::ShowtimeId => write!(out, "\"{showtime}\""),
                EventField::Version => write!(out, "{}", int(version)),
                EventField::Epoch => {
                    quoted(&mut out, epoch);
                    Ok(())
                }
                EventField::AvailableSeats => write!(out, "{}", int(available)),
                EventField::Snapshot => out.write_str("null"),
                EventField::Typename => {
                    quoted(&mut out, &SeatMapEventObject::type_name());
                    Ok(())
                }
                EventField::Changes(inner) => {
                    out.push('[');
                    for (j, (number, state)) in changes.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        out.push('{');
                        for (k, (key, field)) in inner.iter().enumerate() {
                            if k > 0 {
                                out.push(',');
                            }
                            quoted(&mut out, key);
                            out.push(':');
                            match field {
                                ChangeField::Number => quoted(&mut out, number),
                                ChangeField::State => quoted(&mut out, &state_name(*state)),
                                ChangeField::Typename => {
                                    quoted(&mut out, &SeatChangeObject::type_name())
                                }
                            }
                        }
                        out.push('}');
                    }
                    out.write_str("]")
                }
            };
        }
        out.push_str("}}}");
        out
    }
}

/// Appends `text` as a JSON string.
fn quoted(out: &mut String, text: &str) {
    match serde_json::to_string(text) {
        Ok(json) => out.push_str(&json),
        // Serialising a str cannot fail; an empty string keeps the JSON valid if it did.
        Err(_) => out.push_str("\"\""),
    }
}

/// The GraphQL name of a seat state, as the `SeatState` enum spells it.
fn state_name(state: SeatState) -> String {
    match enum_value(SeatStateGql::from(state)) {
        Value::Enum(name) => name.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(query: &str, operation_name: Option<&str>) -> Option<EventPlan> {
        let document = async_graphql::parser::parse_query(query).ok()?;
        super::plan(&document, operation_name)
    }

    const ID: &str = "00000000-0000-0000-0000-000000000001";

    #[test]
    fn plain_selections_are_planned_in_their_order_with_aliases() {
        let plan = plan(
            "subscription($s: ID!) { live: seatMap(showtimeId: $s) { v: version changes { state number } availableSeats snapshot { version } __typename e: epoch } }",
            None,
        );
        let plan = plan.unwrap_or_else(|| panic!("a plain selection is planned"));
        let json = plan.render(
            Uuid::parse_str(ID).unwrap_or_default(),
            7,
            "ab\"c",
            &[("A1".to_owned(), SeatState::Held)],
            41,
        );
        assert_eq!(
            json,
            r#"{"data":{"live":{"v":7,"changes":[{"state":"HELD","number":"A1"}],"availableSeats":41,"snapshot":null,"__typename":"SeatMapEvent","e":"ab\"c"}}}"#
        );
    }

    #[test]
    fn anything_else_goes_through_the_executor() {
        for query in [
            "query { movies { movies { id } } }",
            "subscription { seatMap(showtimeId: \"x\") { ...F } } fragment F on SeatMapEvent { version }",
            "subscription { seatMap(showtimeId: \"x\") { version @include(if: true) } }",
            "subscription { seatMap(showtimeId: \"x\") { version version } }",
            "subscription { seatMap(showtimeId: \"x\") { version } notifications { id } }",
            "subscription { seatMap(showtimeId: \"x\") { nope } }",
            "subscription { seatMap(showtimeId: \"x\") { changes { ... on SeatChange { number } } } }",
            "subscription A { seatMap(showtimeId: \"x\") { version } } subscription B { seatMap(showtimeId: \"y\") { version } }",
            "not graphql",
        ] {
            assert!(plan(query, None).is_none(), "{query}");
        }
        let named = "subscription A { seatMap(showtimeId: \"x\") { version } } subscription B { seatMap(showtimeId: \"y\") { availableSeats } }";
        assert!(plan(named, Some("B")).is_some());
    }

    #[test]
    fn equal_selections_share_a_fingerprint() {
        let a = plan(
            "subscription { seatMap(showtimeId: \"x\") { version } }",
            None,
        );
        let b = plan(
            "subscription($s: ID!) {\n  seatMap(showtimeId: $s) {\n    version\n  }\n}",
            None,
        );
        let c = plan(
            "subscription { seatMap(showtimeId: \"x\") { availableSeats } }",
            None,
        );
        let [Some(a), Some(b), Some(c)] = [a, b, c] else {
            panic!("all three are planned");
        };
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
