//! No string argument may hold NUL (U+0000). Postgres cannot store it in text, so a
//! NUL that reaches a query is an internal error, not the client's mistake it is; and
//! no field of a cinema's (a name, a code, a token, an email) has a use for it. Each
//! domain check of free text refuses control characters too, but lookups by a code or
//! a token take the value as it comes: refusing NUL here, once for every operation over
//! HTTP and the websocket, covers the lookups not yet written as well.
//!
//! The refusal is a `BAD_USER_INPUT` naming the innermost field: the input object's
//! key, else the argument (a variable is named by the argument it is given to).
//!
//! One field takes what a device read as it read it: `checkInTickets`, whose scans are
//! each recorded (a garbled code as an INVALID scan) so that one bad read does not
//! refuse a scanner's whole upload. Its resolver keeps NUL out of Postgres itself.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Positioned, ServerError, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::error::AppError;

/// Fields whose arguments are taken as sent (the module's docs say why).
const AS_SENT: &[&str] = &["checkInTickets"];

/// A variable holding NUL: its name, and the input object key it is under, if any.
pub struct NulVariable {
    name: String,
    key: Option<String>,
}

/// The first variable holding NUL, if any.
pub fn in_variables(variables: &Variables) -> Option<NulVariable> {
    variables.iter().find_map(|(name, value)| {
        in_const(name.as_str(), value).map(|key| NulVariable {
            key: (key != name.as_str()).then_some(key),
            name: name.to_string(),
        })
    })
}

/// Whether a query's text may write NUL: raw, or as an escape (`\u0000`, `\u{0}`).
/// Almost none does; the others skip the walk over their arguments.
pub fn may_write_nul(query: &str) -> bool {
    query.contains('\0') || query.contains("\\u")
}

/// Refuses a request with NUL in `variable` (unless only fields that take their
/// arguments as sent are given it) or, when `written` (its text may write NUL:
/// [`may_write_nul`]), in any argument or variable default of `document`.
pub fn check(
    document: Option<&ExecutableDocument>,
    variable: Option<NulVariable>,
    written: bool,
) -> Result<(), ServerError> {
    if variable.is_none() && !written {
        return Ok(());
    }
    let arguments = document.map(arguments).unwrap_or_default();
    let field = match variable {
        Some(v) => refused_variable(&arguments, &v.name, v.key),
        None => None,
    }
    .or_else(|| document.and_then(|d| in_defaults(d, &arguments)))
    .or_else(|| {
        arguments
            .iter()
            .filter(|a| !AS_SENT.contains(&a.field))
            .find_map(|a| in_value(a.name, a.value))
    });
    match field {
        None => Ok(()),
        Some(field) => {
            let message = format!("`{field}` may not contain the NUL character (U+0000)");
            let error = async_graphql::Error::from(AppError::bad_input(field, message));
            let mut error = error.into_server_error(Default::default());
            // The value may be in the variables: there is no one position to point at.
            error.locations.clear();
            Err(error)
        }
    }
}

/// One argument of a field, in an operation or a fragment.
struct Argument<'a> {
    field: &'a str,
    name: &'a str,
    value: &'a Value,
}

fn arguments(document: &ExecutableDocument) -> Vec<Argument<'_>> {
    fn walk<'a>(set: &'a Positioned<SelectionSet>, out: &mut Vec<Argument<'a>>) {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    out.extend(field.arguments.iter().map(|(name, value)| Argument {
                        field: field.name.node.as_str(),
                        name: name.node.as_str(),
                        value: &value.node,
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

/// How a variable holding NUL is named, unless every field given it takes it as sent.
/// A plain string is named by the argument or input field it is given to first.
fn refused_variable(arguments: &[Argument<'_>], name: &str, key: Option<String>) -> Option<String> {
    let uses: Vec<(&str, String)> = arguments
        .iter()
        .filter_map(|a| given_as(a.name, a.value, name).map(|key| (a.field, key)))
        .collect();
    if !uses.is_empty() && uses.iter().all(|(field, _)| AS_SENT.contains(field)) {
        return None;
    }
    Some(
        key.or_else(|| uses.into_iter().next().map(|(_, key)| key))
            .unwrap_or_else(|| name.to_owned()),
    )
}

/// The key under which `value` (given as `key`) holds variable `name`, if it does.
fn given_as(key: &str, value: &Value, name: &str) -> Option<String> {
    match value {
        Value::Variable(v) if v.as_str() == name => Some(key.to_owned()),
        Value::List(items) => items.iter().find_map(|v| given_as(key, v, name)),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| given_as(k.as_str(), v, name)),
        _ => None,
    }
}

/// A variable default holding NUL, named as a variable would be.
fn in_defaults(document: &ExecutableDocument, arguments: &[Argument<'_>]) -> Option<String> {
    let operations = document.operations.iter().map(|(_, op)| &op.node);
    operations
        .flat_map(|op| &op.variable_definitions)
        .find_map(|d| {
            let d = &d.node;
            let (name, default) = (d.name.node.as_str(), &d.default_value.as_ref()?.node);
            let key = in_const(name, default)?;
            refused_variable(arguments, name, (key != name).then_some(key))
        })
}

/// The innermost key under `field` whose string holds NUL.
fn in_value(field: &str, value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(field.to_owned()),
        Value::List(items) => items.iter().find_map(|v| in_value(field, v)),
        Value::Object(fields) => fields.iter().find_map(|(key, v)| in_value(key.as_str(), v)),
        _ => None,
    }
}

fn in_const(field: &str, value: &ConstValue) -> Option<String> {
    match value {
        ConstValue::String(s) if s.contains('\0') => Some(field.to_owned()),
        ConstValue::List(items) => items.iter().find_map(|v| in_const(field, v)),
        ConstValue::Object(fields) => fields.iter().find_map(|(key, v)| in_const(key.as_str(), v)),
        _ => None,
    }
}
