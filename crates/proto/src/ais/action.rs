//! The `ActionMsg` JSON body of AIStore's control requests.

use serde::{Deserialize, Serialize};

/// AIStore's `ActionMsg`: `{"action": …, "name": …, "value": …}`.
///
/// Serialised exactly as the Python SDK sends it (`name` empty, `value` null by default), so
/// servers see byte-identical bodies from either client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionMsg {
    /// The action (`check-lock`, `start`, `stop`, …).
    pub action: String,
    /// An optional name the action applies to.
    #[serde(default)]
    pub name: String,
    /// An optional action-specific value.
    #[serde(default)]
    pub value: serde_json::Value,
}

impl ActionMsg {
    /// An action with no name and no value.
    pub fn new(action: impl Into<String>) -> Self {
        ActionMsg { action: action.into(), name: String::new(), value: serde_json::Value::Null }
    }

    /// The JSON body.
    pub fn to_body(&self) -> bytes::Bytes {
        // Serialising a struct of strings and a `Value` into a Vec cannot fail.
        bytes::Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_python_sdk_bytes() {
        let body = ActionMsg::new("check-lock").to_body();
        assert_eq!(&body[..], br#"{"action":"check-lock","name":"","value":null}"#);
    }

    #[test]
    fn parses_with_missing_fields() {
        let msg: ActionMsg = serde_json::from_str(r#"{"action":"check-lock"}"#).unwrap();
        assert_eq!(msg, ActionMsg::new("check-lock"));
        assert!(serde_json::from_str::<ActionMsg>(r#"{"name":"x"}"#).is_err());
    }
}
