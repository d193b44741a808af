//! A row's seats as GraphQL `[Seat!]!`, answered in one pass when the selection is
//! plain. async-graphql resolves each object of a list as a container of its own (a
//! future, a field map and their allocations per seat); for the 200 seats of a map that
//! was a quarter of the server's CPU in a flash sale (perf, BENCHMARKS.md). When every
//! selected field is a plain field of `Seat` (or of its `price`), with no directive,
//! argument, fragment or repeated key, the values are written directly; anything else
//! goes through async-graphql's own list resolution, so the answer is the same either
//! way (`tests/holds.rs` compares the two).

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{enum_value, resolve_list};
use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerResult, Value,
};

use super::graphql::SeatObject;

pub struct SeatList(pub Vec<SeatObject>);

impl OutputType for SeatList {
    fn type_name() -> Cow<'static, str> {
        <Vec<SeatObject> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<SeatObject> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<SeatObject> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match plan(&ctx.item.node, SEAT_FIELDS) {
            Some(plan) => Ok(Value::List(
                self.0.iter().map(|seat| render(seat, &plan)).collect(),
            )),
            None => resolve_list(ctx, field, &self.0, Some(self.0.len())).await,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Typename,
    Number,
    Column,
    Kind,
    State,
    HeldByMe,
    Price,
    Amount,
    Currency,
}

const SEAT_FIELDS: &[(&str, Part)] = &[
    ("__typename", Part::Typename),
    ("number", Part::Number),
    ("column", Part::Column),
    ("kind", Part::Kind),
    ("state", Part::State),
    ("heldByMe", Part::HeldByMe),
    ("price", Part::Price),
];

const MONEY_FIELDS: &[(&str, Part)] = &[
    ("__typename", Part::Typename),
    ("amount", Part::Amount),
    ("currency", Part::Currency),
];

/// Response key, what to write, and the plan of its own selection (for `price`).
struct Step {
    key: Name,
    part: Part,
    inner: Vec<Step>,
}

/// The steps for a plain selection; `None` sends the list to the general resolver.
fn plan(set: &SelectionSet, fields: &[(&str, Part)]) -> Option<Vec<Step>> {
    let mut steps: Vec<Step> = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        if !field.directives.is_empty() || !field.arguments.is_empty() {
            return None;
        }
        let part = fields
            .iter()
            .find(|(name, _)| *name == field.name.node.as_str())
            .map(|(_, part)| *part)?;
        let key = field.response_key().node.clone();
        if steps.iter().any(|s| s.key == key) {
            return None;
        }
        let inner = match part {
            Part::Price => plan(&field.selection_set.node, MONEY_FIELDS)?,
            _ if !field.selection_set.node.items.is_empty() => return None,
            _ => Vec::new(),
        };
        steps.push(Step { key, part, inner });
    }
    Some(steps)
}

fn render(seat: &SeatObject, plan: &[Step]) -> Value {
    let mut object = IndexMap::with_capacity(plan.len());
    for step in plan {
        let value = match step.part {
            Part::Typename => Value::String("Seat".to_owned()),
            Part::Number => Value::String(seat.number.clone()),
            Part::Column => Value::from(seat.column),
            Part::Kind => enum_value(seat.kind),
            Part::State => enum_value(seat.state),
            Part::HeldByMe => Value::Boolean(seat.held_by_me),
            Part::Price => {
                let mut money = IndexMap::with_capacity(step.inner.len());
                for inner in &step.inner {
                    let value = match inner.part {
                        Part::Typename => Value::String("Money".to_owned()),
                        Part::Amount => seat.price.amount.to_value(),
                        _ => Value::String(seat.price.currency.clone()),
                    };
                    money.insert(inner.key.clone(), value);
                }
                Value::Object(money)
            }
            // Money's own fields never reach a seat's plan.
            Part::Amount | Part::Currency => Value::Null,
        };
        object.insert(step.key.clone(), value);
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::DocumentOperations;

    /// The selection set of `seats` in `{ seats <selection> }`.
    fn planned(selection: &str) -> Option<Vec<(String, usize)>> {
        let doc = parse_query(format!("{{ seats {selection} }}")).unwrap();
        let DocumentOperations::Single(op) = doc.operations else {
            panic!("one operation")
        };
        let Selection::Field(seats) = &op.node.selection_set.node.items[0].node else {
            panic!("a field")
        };
        plan(&seats.node.selection_set.node, SEAT_FIELDS).map(|steps| {
            steps
                .iter()
                .map(|s| (s.key.to_string(), s.inner.len()))
                .collect()
        })
    }

    #[test]
    fn plain_selections_are_planned_and_the_rest_is_left_to_async_graphql() {
        assert_eq!(
            planned("{ number s: state price { amount currency } }"),
            Some(vec![
                ("number".to_owned(), 0),
                ("s".to_owned(), 0),
                ("price".to_owned(), 2)
            ])
        );
        for general in [
            "{ ... on Seat { number } }",
            "{ number @include(if: true) }",
            "{ number price { ... on Money { amount } } }",
            "{ number number }",
            "{ price { amount } price { currency } }",
            "{ number unknown }",
        ] {
            assert!(planned(general).is_none(), "{general}");
        }
    }
}
