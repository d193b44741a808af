//! A row's seats as GraphQL `[Seat!]!`, answered in one pass when the selection is
//! plain. async-graphql resolves each object of a list as a container of its own (a
//! future, a field map and their allocations per seat); for the 200 seats of a map that
//! was a quarter of the server's CPU in a flash sale (perf, BENCHMARKS.md). When every
//! selected field is a plain field of `Seat` (or of its `price`), with no directive,
//! argument, fragment or repeated key, the values are written directly; anything else
//! goes through async-graphql's own list resolution, so the answer is the same either
//! way (`tests/it/seat_map_fast_paths.rs` compares the two).

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{enum_value, resolve_list};
use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerResult, Value,
};

use crate::graphql::scalars::MoneyObject;
use crate::seating::graphql::SeatObject;

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
        match plan(&ctx.item.node) {
            Some(plan) => Ok(Value::List(
                self.0.iter().map(|seat| render(seat, &plan)).collect(),
            )),
            None => resolve_list(ctx, field, &self.0, Some(self.0.len())).await,
        }
    }
}

/// What to write for one field of a `Seat`.
enum SeatPart {
    Typename,
    Number,
    Column,
    Kind,
    State,
    HeldByMe,
    Price(Vec<(Name, MoneyPart)>),
}

/// What to write for one field of a `Money`.
pub(crate) enum MoneyPart {
    Typename,
    Amount,
    Currency,
}

/// The plain fields of a selection by response key: `None` when it has anything else
/// (a fragment, a directive, an argument, a key given twice).
pub(crate) fn plain_fields(set: &SelectionSet) -> Option<Vec<(Name, &Field)>> {
    let mut fields: Vec<(Name, &Field)> = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        if !field.directives.is_empty() || !field.arguments.is_empty() {
            return None;
        }
        let key = field.response_key().node.clone();
        if fields.iter().any(|(k, _)| *k == key) {
            return None;
        }
        fields.push((key, field));
    }
    Some(fields)
}

pub(crate) fn is_leaf(field: &Field) -> bool {
    field.selection_set.node.items.is_empty()
}

/// The plan for a plain selection of `Seat`; `None` sends the list to the general
/// resolver.
fn plan(set: &SelectionSet) -> Option<Vec<(Name, SeatPart)>> {
    plain_fields(set)?
        .into_iter()
        .map(|(key, field)| {
            let part = match field.name.node.as_str() {
                "price" => return Some((key, SeatPart::Price(money_plan(field)?))),
                _ if !is_leaf(field) => return None,
                "__typename" => SeatPart::Typename,
                "number" => SeatPart::Number,
                "column" => SeatPart::Column,
                "kind" => SeatPart::Kind,
                "state" => SeatPart::State,
                "heldByMe" => SeatPart::HeldByMe,
                _ => return None,
            };
            Some((key, part))
        })
        .collect()
}

pub(crate) fn money_plan(price: &Field) -> Option<Vec<(Name, MoneyPart)>> {
    plain_fields(&price.selection_set.node)?
        .into_iter()
        .map(|(key, field)| {
            let part = match field.name.node.as_str() {
                _ if !is_leaf(field) => return None,
                "__typename" => MoneyPart::Typename,
                "amount" => MoneyPart::Amount,
                "currency" => MoneyPart::Currency,
                _ => return None,
            };
            Some((key, part))
        })
        .collect()
}

fn render(seat: &SeatObject, plan: &[(Name, SeatPart)]) -> Value {
    let mut object = IndexMap::with_capacity(plan.len());
    for (key, part) in plan {
        let value = match part {
            SeatPart::Typename => Value::String(SeatObject::type_name().into_owned()),
            SeatPart::Number => Value::String(seat.number.clone()),
            SeatPart::Column => Value::from(seat.column),
            SeatPart::Kind => enum_value(seat.kind),
            SeatPart::State => enum_value(seat.state),
            SeatPart::HeldByMe => Value::Boolean(seat.held_by_me),
            SeatPart::Price(money) => render_money(&seat.price, money),
        };
        object.insert(key.clone(), value);
    }
    Value::Object(object)
}

/// A `Money` as `plan` selects it.
pub(crate) fn render_money(money: &MoneyObject, plan: &[(Name, MoneyPart)]) -> Value {
    Value::Object(
        plan.iter()
            .map(|(key, part)| {
                let value = match part {
                    MoneyPart::Typename => Value::String(MoneyObject::type_name().into_owned()),
                    MoneyPart::Amount => money.amount.to_value(),
                    MoneyPart::Currency => Value::String(money.currency.clone()),
                };
                (key.clone(), value)
            })
            .collect(),
    )
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
        plan(&seats.node.selection_set.node).map(|steps| {
            steps
                .iter()
                .map(|(key, part)| {
                    let inner = match part {
                        SeatPart::Price(money) => money.len(),
                        _ => 0,
                    };
                    (key.to_string(), inner)
                })
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
