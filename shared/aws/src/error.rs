//! Telling retryable AWS failures from permanent ones, the same way for every service.

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes AWS services use for throttling and transient server trouble
/// (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>, plus the
/// DynamoDB-specific ones from its API reference).
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "KmsThrottled",
];

/// Whether a failed call may succeed when tried again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    Retryable(String),
    Permanent(String),
}

/// Classifies an SDK error (any service: `SdkError` and the metadata trait are shared).
pub(crate) fn classify<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Retryable(format!("{operation}: {}", DisplayErrorContext(err)))
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            // Code and message only: the raw response (headers, body) does not belong in logs.
            let text = format!(
                "{operation}: {code} (HTTP {status}): {}",
                service.err().message().unwrap_or_default()
            );
            if status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code) {
                Failure::Retryable(text)
            } else {
                Failure::Permanent(text)
            }
        }
        _ => Failure::Permanent(format!("{operation}: {}", DisplayErrorContext(err))),
    }
}

/// Whether a per-entry batch error code is transient.
pub(crate) fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}
