//! A film's showtimes as GraphQL `[Showtime!]!`, answered in one pass when the selection
//! is plain, as `graphql::seat_map::seat_list` answers a row's seats. The home screen is
//! 20 films with 10 showtimes each: async-graphql resolves each showtime as a container
//! of its own (a future and a field map per object, a future per field), which is most
//! of what the catalog costs without its cache (issue 22: against PostGraphile). When
//! every selected field is one of the row's own (`id`, `startTime`, `endTime`,
//! `status`, `basePrice`, `__typename`), with no directive, argument, fragment or
//! repeated key, the values are written directly; anything else (the film, the screen,
//! the seat map, seats left) goes through async-graphql's list resolution, so the
//! answer is the same either way (`catalog::the_showtimes_of_a_page_read_the_same_…`).

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{enum_value, resolve_list};
use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerResult, Value,
};

use crate::app::AppState;
use crate::catalog::graphql::{ShowtimeNode, ShowtimeStatus};
use crate::graphql::scalars::{DateTime, MoneyObject};
use crate::graphql::seat_map::seat_list::{
    MoneyPart, is_leaf, money_plan, plain_fields, render_money,
};
use crate::money::{Currency, Money};

pub struct ShowtimeList(pub Vec<ShowtimeNode>);

impl OutputType for ShowtimeList {
    fn type_name() -> Cow<'static, str> {
        <Vec<ShowtimeNode> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<ShowtimeNode> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<ShowtimeNode> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let currency = ctx.data::<AppState>().ok().map(|app| app.config.currency);
        match (plan(&ctx.item.node), currency) {
            (Some(plan), Some(currency)) => Ok(Value::List(
                self.0
                    .iter()
                    .map(|showtime| render(showtime, &plan, currency))
                    .collect(),
            )),
            _ => resolve_list(ctx, field, &self.0, Some(self.0.len())).await,
        }
    }
}

/// What to write for one field of a `Showtime`.
enum ShowtimePart {
    Typename,
    Id,
    StartTime,
    EndTime,
    Status,
    BasePrice(Vec<(Name, MoneyPart)>),
}

/// The plan for a plain selection of `Showtime`; `None` sends the list to the general
/// resolver.
fn plan(set: &SelectionSet) -> Option<Vec<(Name, ShowtimePart)>> {
    plain_fields(set)?
        .into_iter()
        .map(|(key, field)| {
            let part = match field.name.node.as_str() {
                "basePrice" => return Some((key, ShowtimePart::BasePrice(money_plan(field)?))),
                _ if !is_leaf(field) => return None,
                "__typename" => ShowtimePart::Typename,
                "id" => ShowtimePart::Id,
                "startTime" => ShowtimePart::StartTime,
                "endTime" => ShowtimePart::EndTime,
                "status" => ShowtimePart::Status,
                _ => return None,
            };
            Some((key, part))
        })
        .collect()
}

fn render(node: &ShowtimeNode, plan: &[(Name, ShowtimePart)], currency: Currency) -> Value {
    let showtime = &node.0;
    let mut object = IndexMap::with_capacity(plan.len());
    for (key, part) in plan {
        let value = match part {
            ShowtimePart::Typename => Value::String(ShowtimeNode::type_name().into_owned()),
            ShowtimePart::Id => Value::String(showtime.id.to_string()),
            ShowtimePart::StartTime => DateTime(showtime.start_time).to_value(),
            ShowtimePart::EndTime => DateTime(showtime.end_time).to_value(),
            ShowtimePart::Status => enum_value(ShowtimeStatus::of(showtime)),
            ShowtimePart::BasePrice(money) => render_money(
                &MoneyObject::from(Money::new(showtime.base_price, currency)),
                money,
            ),
        };
        object.insert(key.clone(), value);
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::{DocumentOperations, Selection};

    fn planned(selection: &str) -> bool {
        let doc = parse_query(format!("{{ showtimes {selection} }}")).unwrap();
        let DocumentOperations::Single(op) = doc.operations else {
            panic!("one operation")
        };
        let Selection::Field(showtimes) = &op.node.selection_set.node.items[0].node else {
            panic!("a field")
        };
        plan(&showtimes.node.selection_set.node).is_some()
    }

    #[test]
    fn the_rows_own_fields_are_planned_and_the_rest_is_left_to_async_graphql() {
        assert!(planned(
            "{ id at: startTime endTime status basePrice { amount currency } __typename }"
        ));
        for general in [
            "{ id movie { title } }",
            "{ id screen { screenNumber } }",
            "{ availableSeats }",
            "{ ... on Showtime { id } }",
            "{ id @skip(if: false) }",
            "{ id id }",
            "{ basePrice { ... on Money { amount } } }",
        ] {
            assert!(!planned(general), "{general}");
        }
    }
}
