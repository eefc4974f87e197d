//! `POST /accounts/{account}/ai-gateway/dlp/test`: what DLP profiles find in a text, and where
//! (docs/dlp.md, "Testing profiles"): built-in or saved profiles by id, and an unsaved
//! profile's body so an editor can try it before saving. The scan is the proxy's: built-ins
//! and the account's compiled profiles as the proxy holds them, an unsaved one compiled by the
//! same scanner. The answer is byte offsets into the text, never the text itself.

use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::envelope::ok;
use super::extract::ApiPath;
use super::{ApiError, account};
use crate::dlp::{BUILTIN_IDS, CustomProfile, MAX_MATCHES, Match, Scanner, builtin_specs};
use crate::state::AppState;

/// The longest text one call scans.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// The most profiles one call names (as many as a gateway's policy may).
pub const MAX_PROFILES: usize = 16;
/// The body holds the text JSON-escaped (up to six bytes per byte) and a profile.
const MAX_BODY_BYTES: usize = 8 * MAX_TEXT_BYTES;

/// The id an unsaved profile's matches are reported under when its body has none.
const UNSAVED_ID: &str = "unsaved";

/// A profile to scan with and its entries' names (for the answer).
struct Named {
    scanner: std::sync::Arc<Scanner>,
    names: Vec<(String, String)>,
}

pub async fn test(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let body = read_body(request).await?;
    for key in body.keys() {
        if !["text", "profiles", "profile"].contains(&key.as_str()) {
            let hint = crate::suggest::nearest(key, ["text", "profiles", "profile"])
                .map(|known| format!("; did you mean {known}?"))
                .unwrap_or_default();
            return Err(ApiError::bad_request(format!(
                "{}: unknown field{hint}",
                crate::suggest::shown(key)
            )));
        }
    }
    let text = match body.get("text") {
        Some(Value::String(text)) => text,
        _ => return Err(ApiError::bad_request("text: required, a string")),
    };
    if text.len() > MAX_TEXT_BYTES {
        return Err(ApiError::with_code(
            StatusCode::PAYLOAD_TOO_LARGE,
            1001,
            "text",
            format!(
                "text: {} bytes; at most {MAX_TEXT_BYTES} bytes are scanned in one call",
                text.len()
            ),
        ));
    }
    let ids = profile_ids(body.get("profiles"))?;
    let unsaved = match body.get("profile") {
        None | Some(Value::Null) => None,
        Some(Value::Object(profile)) => Some(unsaved_profile(profile)?),
        Some(_) => {
            return Err(ApiError::bad_request(
                "profile: must be a profile's body {name, entries}",
            ));
        }
    };
    if ids.is_empty() && unsaved.is_none() {
        return Err(ApiError::bad_request(
            "profiles: name 1 to 16 profiles, or send an unsaved profile as profile",
        ));
    }

    let mut profiles = named_profiles(&state, account_id, &ids).await?;
    profiles.extend(unsaved);
    let mut found: Vec<Match> = Vec::new();
    for profile in &profiles {
        profile.scanner.scan_into(text.as_bytes(), &mut found);
    }
    let truncated = found.len() >= MAX_MATCHES;
    found.sort_by_key(|m| (m.range.start, m.range.end));
    let matches: Vec<Value> = found
        .iter()
        .map(|m| {
            let name = profiles
                .iter()
                .filter(|p| p.scanner.profile_id() == &*m.profile)
                .flat_map(|p| &p.names)
                .find(|(id, _)| id == &*m.entry)
                .map_or(&*m.entry, |(_, name)| name.as_str());
            json!({
                "profile": &*m.profile,
                "entry": &*m.entry,
                "entry_name": name,
                "start": m.range.start,
                "end": m.range.end,
            })
        })
        .collect();
    Ok(ok(json!({"matches": matches, "truncated": truncated})))
}

/// The body as a JSON object; too large is a 413 (the text's bound is checked after).
async fn read_body(request: Request) -> Result<Map<String, Value>, ApiError> {
    let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::with_code(
                StatusCode::PAYLOAD_TOO_LARGE,
                1001,
                "text",
                format!("request body too large: text is at most {MAX_TEXT_BYTES} bytes"),
            )
        })?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("request body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

fn profile_ids(value: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let list = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) if list.len() <= MAX_PROFILES => list,
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "profiles: a list of at most {MAX_PROFILES} profile ids"
            )));
        }
    };
    let mut ids: Vec<String> = Vec::with_capacity(list.len());
    for (index, id) in list.iter().enumerate() {
        let Some(id) = id.as_str() else {
            return Err(ApiError::bad_request(format!(
                "profiles[{index}]: must be a profile id"
            )));
        };
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// The named profiles: built-ins, and the account's saved profiles as the proxy compiled them.
async fn named_profiles(
    state: &AppState,
    account_id: &str,
    ids: &[String],
) -> Result<Vec<Named>, ApiError> {
    let builtins = builtin_specs();
    let custom = if ids.iter().any(|id| !BUILTIN_IDS.contains(&id.as_str())) {
        let now_ms = state.clock().now_ms();
        let scanners = state
            .dlp_profiles()
            .of_account(state.store().as_ref(), account_id, now_ms)
            .await?;
        let rows = state.store().list_dlp_profiles(account_id).await?;
        Some((scanners, rows))
    } else {
        None
    };
    let mut out = Vec::with_capacity(ids.len() + 1);
    for (index, id) in ids.iter().enumerate() {
        if let Some(scanner) = crate::dlp::builtin(id) {
            let names = builtins
                .iter()
                .filter(|spec| spec.id == *id)
                .flat_map(|spec| &spec.entries)
                .map(|entry| (entry.id.clone(), entry.name.clone()))
                .collect();
            out.push(Named { scanner, names });
            continue;
        }
        let found = custom.as_ref().and_then(|(scanners, rows)| {
            let (_, scanner) = scanners.get(id)?;
            let names = rows
                .iter()
                .filter(|row| row.id == *id)
                .filter_map(|row| serde_json::from_str::<CustomProfile>(&row.body).ok())
                .flat_map(|profile| profile.entries)
                .map(|entry| (entry.id, entry.name))
                .collect();
            Some(Named {
                scanner: std::sync::Arc::clone(scanner),
                names,
            })
        });
        match found {
            Some(named) => out.push(named),
            None => {
                let hint = crate::suggest::nearest(id, BUILTIN_IDS)
                    .map(|known| format!("; did you mean {known}?"))
                    .unwrap_or_default();
                return Err(ApiError::bad_request(format!(
                    "profiles[{index}]: unknown profile {:?}{hint} (built in: {}; or the id of \
                     one of account {account_id:?}'s custom profiles)",
                    crate::suggest::shown(id),
                    BUILTIN_IDS.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// An unsaved profile's body, checked as a save checks it (the error names the entry) and
/// compiled. Its matches name each entry by the `id` the body gives it (an entry of a saved
/// profile being edited), else by its place (`entries[2]`).
fn unsaved_profile(body: &Map<String, Value>) -> Result<Named, ApiError> {
    let mut profile = CustomProfile::parse(body, None)
        .map_err(|why| ApiError::bad_request(format!("profile: {why}")))?;
    let sent = body.get("entries").and_then(Value::as_array);
    for (index, entry) in profile.entries.iter_mut().enumerate() {
        entry.id = sent
            .and_then(|list| list.get(index))
            .and_then(|sent| sent.get("id"))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.len() <= 64)
            .map_or_else(|| format!("entries[{index}]"), str::to_owned);
    }
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| crate::dlp::is_custom_id(id))
        .unwrap_or(UNSAVED_ID);
    let scanner = Scanner::compile(&profile.spec(id))
        .map_err(|why| ApiError::bad_request(format!("profile: {why}")))?;
    let names = profile
        .entries
        .into_iter()
        .map(|entry| (entry.id, entry.name))
        .collect();
    Ok(Named {
        scanner: std::sync::Arc::new(scanner),
        names,
    })
}
