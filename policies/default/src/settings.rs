//! The default policy's settings: a flat JSON object of non-negative integers, with defaults.
//!
//! A tiny hand parser, because `serde_json` needs `std`. It accepts exactly a JSON object whose
//! values are non-negative integers; anything else (an unknown key, a string, a float) is an
//! error that names the key, so `configure` can reject the settings with a useful message.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Every threshold of the default policy. `prepared` is these values as little-endian u64s.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Settings {
    /// Transient failures in a row (timeouts, refusals, crashes) before auto-disable.
    pub max_consecutive_failures: u64,
    /// Deterministic failures in a row (command not found, exits before handshake, not MCP,
    /// HTTP 4xx) before auto-disable.
    pub deterministic_failures: u64,
    /// Failures within the host's sliding window before auto-disable (a flapping server).
    pub max_failures_in_window: u64,
    /// Smallest retry delay, in milliseconds.
    pub backoff_base_ms: u64,
    /// Largest retry delay, in milliseconds.
    pub backoff_max_ms: u64,
    /// A server Ready at least this long before failing starts over with a fresh budget.
    pub fresh_budget_after_ready_ms: u64,
}

pub const DEFAULTS: Settings = Settings {
    max_consecutive_failures: 6,
    deterministic_failures: 3,
    max_failures_in_window: 12,
    backoff_base_ms: 1_000,
    backoff_max_ms: 300_000,
    fresh_budget_after_ready_ms: 600_000,
};

/// The settings keys, in `prepared` order.
const KEYS: [&str; 6] = [
    "max_consecutive_failures",
    "deterministic_failures",
    "max_failures_in_window",
    "backoff_base_ms",
    "backoff_max_ms",
    "fresh_budget_after_ready_ms",
];

impl Settings {
    fn as_array(&self) -> [u64; 6] {
        [
            self.max_consecutive_failures,
            self.deterministic_failures,
            self.max_failures_in_window,
            self.backoff_base_ms,
            self.backoff_max_ms,
            self.fresh_budget_after_ready_ms,
        ]
    }

    fn from_array(v: [u64; 6]) -> Settings {
        Settings {
            max_consecutive_failures: v[0],
            deterministic_failures: v[1],
            max_failures_in_window: v[2],
            backoff_base_ms: v[3],
            backoff_max_ms: v[4],
            fresh_budget_after_ready_ms: v[5],
        }
    }

    /// The bytes `configure` returns and every decision receives.
    pub fn encode(&self) -> Vec<u8> {
        self.as_array()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    }

    /// Reads `prepared`; anything malformed (the host never sends that) means the defaults.
    pub fn decode(bytes: &[u8]) -> Settings {
        if bytes.len() != KEYS.len() * 8 {
            return DEFAULTS;
        }
        let mut v = [0u64; 6];
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            v[i] = u64::from_le_bytes(b);
        }
        Settings::from_array(v)
    }
}

/// Parses and validates the JSON text of `policy.settings`.
pub fn parse(text: &str) -> Result<Settings, String> {
    let mut values = DEFAULTS.as_array();
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    p.expect(b'{')?;
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            let Some(slot) = KEYS.iter().position(|k| *k == key) else {
                return Err(format!(
                    "unknown setting `{key}` (known: {})",
                    KEYS.join(", ")
                ));
            };
            values[slot] = p.integer().map_err(|e| format!("setting `{key}`: {e}"))?;
            p.ws();
            match p.peek() {
                Some(b',') => p.i += 1,
                Some(b'}') => {
                    p.i += 1;
                    break;
                }
                _ => return Err(p.error("`,` or `}`")),
            }
        }
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(p.error("end of settings"));
    }
    let s = Settings::from_array(values);
    check(&s)?;
    Ok(s)
}

fn check(s: &Settings) -> Result<(), String> {
    const DAY_MS: u64 = 24 * 60 * 60 * 1000;
    if s.max_consecutive_failures == 0
        || s.deterministic_failures == 0
        || s.max_failures_in_window == 0
    {
        return Err("failure thresholds must be at least 1".into());
    }
    if s.backoff_base_ms == 0 {
        return Err("setting `backoff_base_ms` must be at least 1".into());
    }
    if s.backoff_max_ms < s.backoff_base_ms {
        return Err("setting `backoff_max_ms` must not be below `backoff_base_ms`".into());
    }
    if s.backoff_max_ms > DAY_MS {
        return Err("setting `backoff_max_ms` must be at most 86400000 (24 h)".into());
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn error(&self, wanted: &str) -> String {
        format!(
            "settings must be a JSON object of non-negative integers: expected {wanted} at byte {}",
            self.i
        )
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(&format!("`{}`", c as char)))
        }
    }

    /// A key: plain ASCII without escapes is all the known keys need.
    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let start = self.i;
        while let Some(c) = self.peek() {
            match c {
                b'"' => {
                    let key = core::str::from_utf8(&self.s[start..self.i])
                        .map_err(|_| self.error("a UTF-8 key"))?;
                    self.i += 1;
                    return Ok(String::from(key));
                }
                b'\\' => return Err(self.error("a key without escapes")),
                _ => self.i += 1,
            }
        }
        Err(self.error("`\"`"))
    }

    fn integer(&mut self) -> Result<u64, String> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| String::from("number too large"))?;
            self.i += 1;
        }
        if self.i == start || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(String::from("must be a non-negative integer"));
        }
        Ok(v)
    }
}
