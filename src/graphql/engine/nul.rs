//! No string argument may hold NUL (U+0000). Postgres cannot store it in text, so a
//! NUL that reaches a query is an internal error, not the client's mistake it is; and
//! no field of a cinema's (a name, a code, a token, an email) has a use for it. Each
//! domain check of free text refuses control characters too, but lookups by a code or
//! a token take the value as it comes: refusing NUL here, once for every operation over
//! HTTP and the websocket, covers the lookups not yet written as well.
//!
//! The refusal is a `BAD_USER_INPUT` naming the field as the domain's own checks do
//! (`voucherCode`, `ageRating.code`, `search`): a variable is named by where it is
//! given.
//!
//! One field takes what a device read as it read it: `checkInTickets`, whose scans are
//! each recorded (a garbled code as an INVALID scan) so that one bad read does not
//! refuse a scanner's whole upload. Its resolver keeps NUL out of Postgres itself.

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerError, Variables};

use super::arguments::{Argument, arguments};
use async_graphql_value::{ConstValue, Value};

use crate::error::AppError;

/// Fields whose arguments are taken as sent (the module's docs say why).
const AS_SENT: &[&str] = &["checkInTickets"];

/// A step into an argument's value.
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Where in an argument a value is, from the argument's name.
type Path = Vec<Step>;

/// A path as the domain's errors name fields: `ageRating.code`, `scans[2].code`;
/// the `input` argument that wraps a mutation's fields is left out.
fn render(path: &[Step]) -> String {
    let path = match path {
        [Step::Key(first), rest @ ..] if first == "input" && !rest.is_empty() => rest,
        _ => path,
    };
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn key(k: &str) -> Step {
    Step::Key(k.to_owned())
}

fn joined(mut head: Path, tail: Path) -> Path {
    head.extend(tail);
    head
}

/// A variable holding NUL: its name, and where in its value.
pub struct NulVariable {
    name: String,
    inner: Path,
}

/// The first variable holding NUL, if any.
pub fn in_variables(variables: &Variables) -> Option<NulVariable> {
    variables.iter().find_map(|(name, value)| {
        in_const(value).map(|inner| NulVariable {
            name: name.to_string(),
            inner,
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
        Some(v) => refused_variable(&arguments, &v.name, v.inner),
        None => None,
    }
    .or_else(|| document.and_then(|d| in_defaults(d, &arguments)))
    .or_else(|| {
        arguments
            .iter()
            .filter(|a| !AS_SENT.contains(&a.field))
            .find_map(|a| in_value(a.value).map(|p| render(&joined(vec![key(a.name)], p))))
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

/// How a variable holding NUL at `inner` is named, unless every field given it takes
/// it as sent: by where it is given first (as a literal there would be), else by its
/// own name.
fn refused_variable(arguments: &[Argument<'_>], name: &str, inner: Path) -> Option<String> {
    let uses: Vec<(&str, Path)> = arguments
        .iter()
        .filter_map(|a| given_at(a.value, name).map(|p| (a.field, joined(vec![key(a.name)], p))))
        .collect();
    if !uses.is_empty() && uses.iter().all(|(field, _)| AS_SENT.contains(field)) {
        return None;
    }
    let at = uses
        .into_iter()
        .next()
        .map_or_else(|| vec![key(name)], |(_, p)| p);
    Some(render(&joined(at, inner)))
}

/// Where in `value` variable `name` is given, if it is.
fn given_at(value: &Value, name: &str) -> Option<Path> {
    match value {
        Value::Variable(v) if v.as_str() == name => Some(Vec::new()),
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| given_at(v, name).map(|p| joined(vec![Step::Index(i)], p))),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| given_at(v, name).map(|p| joined(vec![key(k.as_str())], p))),
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
            let inner = in_const(&d.default_value.as_ref()?.node)?;
            refused_variable(arguments, d.name.node.as_str(), inner)
        })
}

/// Where in `value` a string holds NUL.
fn in_value(value: &Value) -> Option<Path> {
    match value {
        Value::String(s) if s.contains('\0') => Some(Vec::new()),
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| in_value(v).map(|p| joined(vec![Step::Index(i)], p))),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| in_value(v).map(|p| joined(vec![key(k.as_str())], p))),
        _ => None,
    }
}

fn in_const(value: &ConstValue) -> Option<Path> {
    match value {
        ConstValue::String(s) if s.contains('\0') => Some(Vec::new()),
        ConstValue::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| in_const(v).map(|p| joined(vec![Step::Index(i)], p))),
        ConstValue::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| in_const(v).map(|p| joined(vec![key(k.as_str())], p))),
        _ => None,
    }
}
