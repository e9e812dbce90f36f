//! [`Error`]: what a handler returns with `?`, answered as a JSON error with the right
//! status.

use std::fmt;

use crate::device::DeviceError;
use crate::flow::IntoResponse;
use crate::state::StateError;
use crate::Response;

/// A failed request, answered as `{"error": message, "code": status}` with `status`.
///
/// JSON, state and device errors convert into it, so `?` works in any handler that
/// returns `Result<_, Error>` (or [`berth_sdk::Result`](crate::Result)):
///
/// | from | status |
/// |---|---|
/// | `serde_json::Error` (a body or message that is not the JSON asked for) | 400 |
/// | [`StateError`] whose host reason is that the store is unreachable (a cluster's Redis is down: [`StateError::is_unavailable`]) | 503 |
/// | [`StateError::Refused`] (over the namespace's quota) | 507 |
/// | [`StateError::Incr`], [`StateError::Encode`] | 500 |
/// | [`DeviceError::NotGranted`], [`DeviceError::Unsupported`] | 503 |
/// | [`DeviceError::NoSuchPin`] | 500 |
///
/// ```
/// # use berth_sdk::prelude::*;
/// #[derive(serde::Deserialize)]
/// struct NewUser { name: String }
///
/// fn create(req: &Request) -> Result<Response, Error> {
///     let user: NewUser = req.json()?; // invalid JSON → 400
///     if user.name.is_empty() {
///         return Err(Error::bad_request("name must not be empty"));
///     }
///     state::set_json(&format!("user:{}", user.name), &json!({"name": user.name}))?; // → 507
///     Ok(Response::json_status(&json!({"name": user.name}), 201))
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    status: u16,
    message: String,
}

impl Error {
    /// An error answered with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }

    /// `400 Bad Request`.
    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::new(400, message)
    }

    /// `404 Not Found`.
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(404, message)
    }

    /// `500 Internal Server Error`.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(500, message)
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message of its JSON body.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for Error {}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        Response::error(&self.message, self.status)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::bad_request(format!("Invalid JSON: {e}"))
    }
}

impl From<StateError> for Error {
    fn from(e: StateError) -> Error {
        let status = match e {
            _ if e.is_unavailable() => 503,
            StateError::Refused(_) => 507,
            StateError::Incr(_) | StateError::Encode(_) | StateError::Unavailable(_) => 500,
        };
        Error::new(status, e.to_string())
    }
}

impl From<DeviceError> for Error {
    fn from(e: DeviceError) -> Error {
        let status = match e {
            DeviceError::NotGranted | DeviceError::Unsupported => 503,
            DeviceError::NoSuchPin => 500,
        };
        Error::new(status, crate::device::error_message(e))
    }
}

/// `Result<T, Error>`, with `T` a [`Response`] unless named: `fn h(req: &Request) ->
/// berth_sdk::Result { … }`.
pub type Result<T = Response, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_errors_get_their_status() {
        let unreachable = "state store unavailable: redis did not answer within 300ms";
        for e in [
            StateError::Refused(unreachable.into()),
            StateError::Incr(unreachable.into()),
            StateError::Unavailable(unreachable.into()),
        ] {
            assert!(e.is_unavailable());
            assert_eq!(Error::from(e).status(), 503);
        }
        let quota = StateError::Refused("state-set refused: state namespace already holds".into());
        assert!(!quota.is_unavailable());
        assert_eq!(Error::from(quota).status(), 507);
        assert_eq!(
            Error::from(StateError::Incr("value is not an integer".into())).status(),
            500
        );
        assert_eq!(Error::from(StateError::Encode("x".into())).status(), 500);
    }
}
