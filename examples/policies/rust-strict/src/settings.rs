//! The strict policy's settings: parsed and checked once by `configure`, then carried to every
//! decision as the `prepared` bytes (compact JSON of the checked values).

use serde::{Deserialize, Serialize};

/// The host's ceiling for a backoff answer (24 hours); anything above is an invalid answer.
const HOST_MAX_BACKOFF_MS: u64 = 24 * 60 * 60 * 1000;

/// `policy.settings` for the strict policy. Unknown keys are rejected so typos do not go unnoticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Transient failures in a row that auto-disable a server (default 2, at least 1).
    pub max_consecutive_failures: u32,
    /// The first backoff step in milliseconds (default 250, at least 1).
    pub backoff_base_ms: u64,
    /// The longest backoff in milliseconds (default 10 000, at least `backoff_base_ms`, at most 24 h).
    pub backoff_cap_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_consecutive_failures: 2,
            backoff_base_ms: 250,
            backoff_cap_ms: 10_000,
        }
    }
}

impl Settings {
    /// Parses and checks the JSON text of `policy.settings`; the error names the offending key.
    pub fn parse(json: &str) -> Result<Settings, String> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|err| format!("strict policy settings: {err}"))?;
        // Serde would also accept an array for a struct; settings are a JSON object only.
        if !value.is_object() {
            return Err("strict policy settings: expected a JSON object".into());
        }
        let settings: Settings = serde_json::from_value(value)
            .map_err(|err| format!("strict policy settings: {err}"))?;
        if settings.max_consecutive_failures == 0 {
            return Err(
                "strict policy settings: `max_consecutive_failures` must be at least 1".into(),
            );
        }
        if settings.backoff_base_ms == 0 {
            return Err("strict policy settings: `backoff_base_ms` must be at least 1".into());
        }
        if settings.backoff_cap_ms < settings.backoff_base_ms {
            return Err(format!(
                "strict policy settings: `backoff_cap_ms` ({}) must not be below `backoff_base_ms` ({})",
                settings.backoff_cap_ms, settings.backoff_base_ms
            ));
        }
        if settings.backoff_cap_ms > HOST_MAX_BACKOFF_MS {
            return Err(format!(
                "strict policy settings: `backoff_cap_ms` ({}) exceeds the host's maximum of {HOST_MAX_BACKOFF_MS} ms",
                settings.backoff_cap_ms
            ));
        }
        Ok(settings)
    }

    /// The `prepared` bytes handed back to every decision.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising a struct of plain integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The inverse of `encode`.
    pub fn decode(bytes: &[u8]) -> Result<Settings, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_gives_the_defaults() {
        assert_eq!(Settings::parse("{}").unwrap(), Settings::default());
    }

    #[test]
    fn settings_round_trip_through_prepared_bytes() {
        let s = Settings::parse(r#"{"max_consecutive_failures":3,"backoff_cap_ms":5000}"#).unwrap();
        assert_eq!(s.max_consecutive_failures, 3);
        assert_eq!(s.backoff_cap_ms, 5000);
        assert_eq!(s.backoff_base_ms, 250);
        assert_eq!(Settings::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn bad_settings_are_rejected_with_the_key_named() {
        let cases = [
            (
                r#"{"max_consecutive_failures":0}"#,
                "max_consecutive_failures",
            ),
            (r#"{"backoff_base_ms":0}"#, "backoff_base_ms"),
            (
                r#"{"backoff_base_ms":500,"backoff_cap_ms":100}"#,
                "backoff_cap_ms",
            ),
            (r#"{"backoff_cap_ms":90000000}"#, "backoff_cap_ms"),
            (r#"{"max_failures":3}"#, "max_failures"),
            (r#"{"backoff_cap_ms":"ten"}"#, "invalid type"),
            ("[]", "expected a JSON object"),
            ("not json", "expected ident"),
        ];
        for (json, needle) in cases {
            let err = Settings::parse(json).unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }
}
