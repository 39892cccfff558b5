//! Errors the API server answers with, shaped like Kubernetes' `Status`.

use serde::{Deserialize, Serialize};

/// The `reason` of a failed request, as in `metav1.StatusReason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Reason {
    /// 404: the object (or its namespace) does not exist.
    NotFound,
    /// 409: an object with that name already exists.
    AlreadyExists,
    /// 409: the resourceVersion precondition failed, or server-side apply
    /// found fields owned by another manager.
    Conflict,
    /// 422: the object is not valid.
    Invalid,
    /// 403: the request is not allowed, e.g. new content in a terminating
    /// namespace.
    Forbidden,
    /// 400: the request itself is malformed (bad patch, unknown kind).
    BadRequest,
    /// 405: the kind has no such subresource.
    MethodNotAllowed,
    /// 415: the body's content type is not one the resource accepts, e.g.
    /// a strategic merge patch on a custom resource.
    UnsupportedMediaType,
    /// 500: the server failed (kcheck injects these as faults).
    InternalError,
}

impl Reason {
    /// The HTTP status code Kubernetes answers with.
    pub fn code(self) -> u16 {
        match self {
            Reason::NotFound => 404,
            Reason::AlreadyExists | Reason::Conflict => 409,
            Reason::Invalid => 422,
            Reason::Forbidden => 403,
            Reason::BadRequest => 400,
            Reason::MethodNotAllowed => 405,
            Reason::UnsupportedMediaType => 415,
            Reason::InternalError => 500,
        }
    }
}

/// A failed API request: a reason and a human-readable message, like the
/// `Status` object the Kubernetes API server returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{reason:?} ({code}): {message}", code = reason.code())]
pub struct ApiError {
    /// Why the request failed.
    pub reason: Reason,
    /// What happened, in the API server's words.
    pub message: String,
}

impl ApiError {
    /// An error with a reason and message.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        ApiError {
            reason,
            message: message.into(),
        }
    }

    /// 404 NotFound.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Reason::NotFound, message)
    }

    /// 409 AlreadyExists.
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(Reason::AlreadyExists, message)
    }

    /// 409 Conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Reason::Conflict, message)
    }

    /// 422 Invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Reason::Invalid, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Reason::Forbidden, message)
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Reason::BadRequest, message)
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(Reason::UnsupportedMediaType, message)
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        self.reason.code()
    }

    /// True for 404 NotFound.
    pub fn is_not_found(&self) -> bool {
        self.reason == Reason::NotFound
    }

    /// True for 409 Conflict (not AlreadyExists).
    pub fn is_conflict(&self) -> bool {
        self.reason == Reason::Conflict
    }

    /// True for 409 AlreadyExists.
    pub fn is_already_exists(&self) -> bool {
        self.reason == Reason::AlreadyExists
    }

    /// True for 422 Invalid.
    pub fn is_invalid(&self) -> bool {
        self.reason == Reason::Invalid
    }

    /// True for 403 Forbidden.
    pub fn is_forbidden(&self) -> bool {
        self.reason == Reason::Forbidden
    }
}
