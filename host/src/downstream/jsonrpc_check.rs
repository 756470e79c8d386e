//! A POST to an MCP endpoint whose body is not a JSON-RPC message gets a JSON-RPC error, as
//! the spec asks: `-32700` (parse error) for a body that is not JSON, `-32600` (invalid
//! request) for JSON that is not a message, and `-32600` with HTTP 413 for a body over the
//! limit. (rmcp answers all of these with a bare HTTP 415.) Only bodies declared as JSON are
//! looked at; a wrong `Content-Type` still gets rmcp's 415.
//!
//! rmcp parses every body itself, and its typed parse is the costliest step of a forwarded
//! call's decoding (an untagged union, tried variant by variant), so a body is parsed again
//! here only when rmcp refused it: a sound request costs one parse, not two.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};

/// The largest request body accepted (rmcp's own limit).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;

/// The middleware: hands the request on with the same bytes, and puts the JSON-RPC error in
/// place of rmcp's 415 when the body is not a message.
pub async fn check(request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !declares_json(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Rejection {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: INVALID_REQUEST,
                id: Value::Null,
                message: format!("the request body is over {MAX_BODY_BYTES} bytes"),
            }
            .into_response();
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    if response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    match verdict(&bytes) {
        Err(rejection) => rejection.into_response(),
        Ok(()) => response,
    }
}

fn declares_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
        })
}

/// Why a body is refused: the HTTP status and the JSON-RPC error a client gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub status: StatusCode,
    pub code: i64,
    pub id: Value,
    pub message: String,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let error = json!({"code": self.code, "message": self.message});
        let body = json!({"jsonrpc": "2.0", "id": self.id, "error": error});
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// `Ok` for a JSON-RPC message, else why not. Pure.
pub fn verdict(body: &Bytes) -> Result<(), Rejection> {
    let Err(e) = serde_json::from_slice::<ClientJsonRpcMessage>(body) else {
        return Ok(());
    };
    if e.is_syntax() || e.is_eof() {
        return Err(Rejection {
            status: StatusCode::BAD_REQUEST,
            code: PARSE_ERROR,
            id: Value::Null,
            message: format!("Parse error: the body is not JSON ({e})"),
        });
    }
    // JSON, but not a message: name what is wrong, and answer to its id if it has one.
    let id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("id").cloned())
        .filter(|id| id.is_string() || id.is_number())
        .unwrap_or(Value::Null);
    Err(Rejection {
        status: StatusCode::BAD_REQUEST,
        code: INVALID_REQUEST,
        id,
        message: format!("Invalid Request: not a JSON-RPC 2.0 request or notification ({e})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_table() {
        // (body, the JSON-RPC error code and id expected; `None`: a valid message)
        let cases: [(&str, Option<(i64, Value)>); 8] = [
            (r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, None),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                None,
            ),
            ("{", Some((PARSE_ERROR, Value::Null))),
            ("not json", Some((PARSE_ERROR, Value::Null))),
            ("", Some((PARSE_ERROR, Value::Null))),
            ("[1, 2]", Some((INVALID_REQUEST, Value::Null))),
            (
                r#"{"id": 7, "method": 3}"#,
                Some((INVALID_REQUEST, json!(7))),
            ),
            (
                r#"{"jsonrpc":"2.0","id":"x","params":{}}"#,
                Some((INVALID_REQUEST, json!("x"))),
            ),
        ];
        for (body, want) in cases {
            let got = verdict(&Bytes::from(body));
            match (got, want) {
                (Ok(()), None) => {}
                (Err(rejection), Some((code, id))) => {
                    assert_eq!(rejection.status, StatusCode::BAD_REQUEST, "{body}");
                    assert_eq!((rejection.code, rejection.id), (code, id), "{body}");
                }
                (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
            }
        }
    }
}
