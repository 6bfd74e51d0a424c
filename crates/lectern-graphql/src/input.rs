//! Text no backend may hold: refused at the door, naming where it is.
//!
//! PostgreSQL's text and jsonb hold no NUL character, SQLite's do; the
//! event log refuses such text on both (`lectern_store::Error::Unstorable`),
//! and the API refuses it before any resolver runs, so a client learns
//! which argument to fix.

use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Value as ConstValue, Variables};

use crate::error::ApiError;

/// The first argument of the operation (its literals, through fragments,
/// and the request's variables) whose text holds a NUL character.
pub(crate) fn unstorable_argument(
    doc: &ExecutableDocument,
    op: &OperationDefinition,
    variables: &Variables,
) -> Result<(), ApiError> {
    for (name, value) in variables.iter() {
        if let Some(path) = const_nul(value) {
            return Err(refused(&format!("the variable ${name}{path}")));
        }
    }
    let mut seen = Vec::new();
    match literal_nul(doc, &op.selection_set.node, &mut seen) {
        Some(place) => Err(refused(&place)),
        None => Ok(()),
    }
}

fn refused(place: &str) -> ApiError {
    ApiError::bad_input(format!(
        "{place} holds a NUL character (U+0000), which Lectern does not store; remove it"
    ))
}

fn literal_nul<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    seen: &mut Vec<&'d str>,
) -> Option<String> {
    for selection in &set.items {
        let found = match &selection.node {
            Selection::Field(f) => {
                let field = f.node.name.node.as_str();
                f.node
                    .arguments
                    .iter()
                    .find_map(|(arg, value)| {
                        // Variables are checked above; here they read as null.
                        let literal = value
                            .node
                            .clone()
                            .into_const_with(|_| Ok::<_, ()>(ConstValue::Null))
                            .unwrap_or(ConstValue::Null);
                        const_nul(&literal).map(|path| {
                            format!("the argument {}{path} of {field}", arg.node.as_str())
                        })
                    })
                    .or_else(|| literal_nul(doc, &f.node.selection_set.node, seen))
            }
            Selection::InlineFragment(f) => literal_nul(doc, &f.node.selection_set.node, seen),
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.as_str();
                if seen.contains(&name) {
                    None
                } else {
                    seen.push(name);
                    doc.fragments
                        .get(name)
                        .and_then(|f| literal_nul(doc, &f.node.selection_set.node, seen))
                }
            }
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Where in a value a NUL is (`""` for the value itself, `.name` or `[2]`
/// inside it).
fn const_nul(value: &ConstValue) -> Option<String> {
    match value {
        ConstValue::String(s) => s.contains('\0').then(String::new),
        ConstValue::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| const_nul(v).map(|p| format!("[{i}]{p}"))),
        ConstValue::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| const_nul(v).map(|p| format!(".{k}{p}"))),
        _ => None,
    }
}
