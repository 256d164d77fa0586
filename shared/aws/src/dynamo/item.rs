//! Reading and writing DynamoDB attribute values, shared by the table's adapters.

use autoenroll_core::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::Item;
use crate::error::{Failure, classify};

pub(crate) fn store_error<E>(
    operation: &str,
    err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify(operation, err) {
        Failure::Retryable(text) => StoreError::Unavailable(text),
        Failure::Permanent(text) => StoreError::Other(text),
    }
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn string_list(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().cloned().map(AttributeValue::S).collect())
}

pub(crate) fn malformed(name: &str) -> StoreError {
    StoreError::Other(format!("stored item has a missing or malformed `{name}`"))
}

pub(crate) fn string(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(malformed(name)),
    }
}

pub(crate) fn optional_string(item: &Item, name: &str) -> Result<Option<String>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        Some(_) => Err(malformed(name)),
    }
}

pub(crate) fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| malformed(name)),
        _ => Err(malformed(name)),
    }
}

pub(crate) fn strings(item: &Item, name: &str) -> Result<Vec<String>, StoreError> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| match v {
                AttributeValue::S(value) => Ok(value.clone()),
                _ => Err(malformed(name)),
            })
            .collect(),
        Some(_) => Err(malformed(name)),
    }
}
